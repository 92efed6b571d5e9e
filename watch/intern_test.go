package watch

import (
	"encoding/json"
	"os"
	"reflect"
	"runtime"
	"testing"

	"github.com/hashicorp/consul/api"
)

// answer decodes testdata/health-10-instances.json: ten instances on one
// node, each with the node's serfHealth check and an HTTP check of its own,
// as Consul 1.14 answers /v1/health/service.
func answer(t testing.TB) []*api.ServiceEntry {
	t.Helper()
	b, err := os.ReadFile("testdata/health-10-instances.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []*api.ServiceEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestInternSharesNodeData(t *testing.T) {
	in := newInterner()
	a := healthServices(in, answer(t), []string{HealthAny}, false)
	b := healthServices(in, answer(t), []string{HealthAny}, false)
	if len(a) != 10 || len(b) != 10 {
		t.Fatalf("got %d and %d instances, want 10", len(a), len(b))
	}
	for i, s := range append(a, b...) {
		if !sameMap(s.NodeTaggedAddresses, a[0].NodeTaggedAddresses) || !sameMap(s.NodeMeta, a[0].NodeMeta) {
			t.Errorf("instance %d: node maps not shared", i)
		}
		if s.Checks[0] != a[0].Checks[0] || s.Checks[0].CheckID != "serfHealth" {
			t.Errorf("instance %d: node check %s not shared", i, s.Checks[0].CheckID)
		}
		if i > 0 && s.Checks[1] == a[0].Checks[1] {
			t.Errorf("instance %d: a service check is shared with another instance's", i)
		}
	}
	if a[0].NodeTaggedAddresses["lan"] != "127.0.0.1" || a[0].Checks[0].Output != "Agent alive and reachable" {
		t.Errorf("interned data differs from the answer: %v %q", a[0].NodeTaggedAddresses, a[0].Checks[0].Output)
	}

	// The node's check fails and its meta changes: new values, not the kept ones.
	c := answer(t)
	for _, e := range c {
		e.Checks[0].Status, e.Checks[0].Output, e.Checks[0].ModifyIndex = "critical", "Agent not live", 99
		e.Node.Meta = map[string]string{"rack": "r2"}
	}
	got := healthServices(in, c, []string{HealthAny}, false)
	for i, s := range got {
		if s.Checks[0].Status != "critical" || s.NodeMeta["rack"] != "r2" || s.Status != "critical" {
			t.Errorf("instance %d after the node changed: check %s, meta %v, status %s", i, s.Checks[0].Status, s.NodeMeta, s.Status)
		}
		if s.Checks[0] != got[0].Checks[0] {
			t.Errorf("instance %d: the changed node check is not shared either", i)
		}
	}
	if a[0].Checks[0].Status != "passing" || a[0].NodeMeta["rack"] != "" {
		t.Error("the earlier answer's data changed under it")
	}
}

func sameMap(a, b map[string]string) bool {
	return len(a) > 0 && reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer()
}

// BenchmarkHealthServicesHeap reports the live heap that the data of 1,000
// services x 10 instances (one node) holds, with and without interning:
// go test -run - -bench HealthServicesHeap ./watch/
func BenchmarkHealthServicesHeap(b *testing.B) {
	for _, tc := range []struct {
		name string
		in   func() *interner
	}{{"interned", newInterner}, {"copies", func() *interner { return nil }}} {
		b.Run(tc.name, func(b *testing.B) {
			var heap float64
			for range b.N {
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				in := tc.in()
				keep := make([][]*HealthService, 0, 1000)
				for range 1000 {
					keep = append(keep, healthServices(in, answer(b), []string{HealthAny}, false))
				}
				runtime.GC()
				runtime.ReadMemStats(&m1)
				heap = float64(m1.HeapAlloc-m0.HeapAlloc) / (1 << 20)
				runtime.KeepAlive(keep)
			}
			b.ReportMetric(heap, "MiB-live")
		})
	}
}
