package watch

import (
	"encoding/json"
	"os"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"unsafe"

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

// Values that instances repeat (check names and statuses, service meta and
// tags) are shared, between instances and between answers; values that
// differ are not, and no value changes.
func TestInternSharesRepeatedValues(t *testing.T) {
	in := newInterner()
	c := answer(t)
	c[0].Service.Tags = []string{"v2", "api"}
	c[1].Service.Tags = []string{"api", "v2"}
	c[2].Service.Meta = map[string]string{"weight": "5"}
	a := healthServices(in, c, []string{HealthAny}, false)
	b := healthServices(in, answer(t), []string{HealthAny}, false)
	byID := map[string]*HealthService{}
	for _, s := range a {
		byID[s.ID] = s
	}
	s0, s1, s2, s3 := byID["svc-0001-0"], byID["svc-0001-1"], byID["svc-0001-2"], byID["svc-0001-3"]
	if !slices.Equal(s0.Tags, ServiceTags{"api", "v2"}) || unsafe.SliceData(s0.Tags) != unsafe.SliceData(s1.Tags) {
		t.Errorf("equal tag lists %v and %v: not one shared list", s0.Tags, s1.Tags)
	}
	if s2.ServiceMeta["weight"] != "5" || s3.ServiceMeta["weight"] != "1" || sameMap(s2.ServiceMeta, s3.ServiceMeta) {
		t.Errorf("meta %v and %v: different maps must stay apart", s2.ServiceMeta, s3.ServiceMeta)
	}
	if !sameMap(s3.ServiceMeta, b[9].ServiceMeta) {
		t.Error("equal meta in two answers: not one shared map")
	}
	c0, c1 := s0.Checks[1], b[5].Checks[1]
	if c0.Status != c1.Status {
		c1 = b[0].Checks[1] // the same instance in the second answer
	}
	if c0.Status != c1.Status || unsafe.StringData(c0.Status) != unsafe.StringData(c1.Status) ||
		unsafe.StringData(c0.Name) != unsafe.StringData(c1.Name) {
		t.Errorf("check status %q and name %q: not shared between instances", c0.Status, c0.Name)
	}
}
