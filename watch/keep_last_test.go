package watch

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func TestKeepLast(t *testing.T) {
	a, b, c := &HealthService{Node: "n1", ID: "a"}, &HealthService{Node: "n1", ID: "b"}, &HealthService{Node: "n2", ID: "a"}
	fail := func(keys ...*HealthService) map[instanceKey]bool {
		m := map[instanceKey]bool{}
		for _, k := range keys {
			m[instanceKey{k.Node, k.ID}] = true
		}
		return m
	}
	ids := func(l []*HealthService) string {
		if l == nil {
			return "nil"
		}
		var s []string
		for _, h := range l {
			s = append(s, h.Node+"/"+h.ID)
		}
		return "[" + strings.Join(s, " ") + "]"
	}
	for _, tc := range []struct {
		name      string
		last, now []*HealthService
		failing   map[instanceKey]bool
		want      string
	}{
		{"all failing: last kept", []*HealthService{a, b, c}, nil, fail(a, b, c), "[n1/a n1/b n2/a]"},
		{"not empty: delivered", []*HealthService{a, b, c}, []*HealthService{a}, fail(b, c), "nil"},
		{"nothing delivered yet", nil, nil, fail(a), "nil"},
		{"all deregistered", []*HealthService{a, b}, nil, fail(), "nil"},
		{"one deregistered, the rest failing", []*HealthService{a, b, c}, []*HealthService{}, fail(a, c), "[n1/a n2/a]"},
		{"only new instances failing", []*HealthService{a}, nil, fail(b), "nil"},
		{"same ID on another node is another instance", []*HealthService{a}, nil, fail(c), "nil"},
	} {
		if got := ids(keepLast(tc.last, tc.now, tc.failing)); got != tc.want {
			t.Errorf("%s: kept %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestFailingInstances(t *testing.T) {
	entry := func(id string, statuses ...string) *api.ServiceEntry {
		var checks api.HealthChecks
		for i, s := range statuses {
			name := fmt.Sprintf("c%d", i)
			if s == "maint" {
				name, s = "_service_maintenance:"+id, api.HealthCritical
			}
			checks = append(checks, &api.HealthCheck{CheckID: name, Status: s})
		}
		return &api.ServiceEntry{Node: &api.Node{Node: "n1"}, Service: &api.AgentService{ID: id}, Checks: checks}
	}
	got := failingInstances([]*api.ServiceEntry{
		entry("passing", api.HealthPassing),
		entry("critical", api.HealthPassing, api.HealthCritical),
		entry("warning", api.HealthWarning),
		entry("maintenance", "maint", api.HealthCritical),
		{Node: &api.Node{Node: "n1"}}, // no service: skipped
		nil,
	})
	want := map[instanceKey]bool{{"n1", "critical"}: true, {"n1", "warning"}: true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("failing = %v, want %v", got, want)
	}
}

// instance is one entry of a fake health/service answer.
type instance struct {
	port   int
	status string
}

// writeInstances answers health/service/web with the instances, each on
// its own node, identified by its port.
func writeInstances(w http.ResponseWriter, index uint64, list ...instance) {
	var entries []string
	for _, in := range list {
		check, status := "c", in.status
		if status == api.HealthMaint { // as Consul shows it
			check, status = fmt.Sprintf("_service_maintenance:web-%d", in.port), api.HealthCritical
		}
		entries = append(entries, fmt.Sprintf(
			`{"Node":{"Node":"n%d","Address":"10.0.0.1"},"Service":{"ID":"web-%d","Service":"web","Port":%d},"Checks":[{"CheckID":%q,"Status":%q}]}`,
			in.port, in.port, in.port, check, status))
	}
	w.Header().Set("X-Consul-Index", strconv.FormatUint(index, 10))
	w.Header().Set("X-Consul-KnownLeader", "true")
	w.Header().Set("X-Consul-LastContact", "0")
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "[%s]", strings.Join(entries, ","))
}

func all(status string, ports ...int) []instance {
	var out []instance
	for _, p := range ports {
		out = append(out, instance{p, status})
	}
	return out
}

const (
	msgKeeping    = "every instance of the service fails its checks, keeping the last instances; HAProxy's checks decide"
	msgKeepingEnd = "keeping the last instances ended"
)

func TestKeepLastAllCritical(t *testing.T) {
	guards := &guardLog{}
	h := newHarness(t, "", Options{HoldEmpty: 200 * time.Millisecond, Guarded: guards.record},
		func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
			switch n {
			case 1:
				writeInstances(w, 10, all(api.HealthPassing, 1, 2, 3)...)
			case 2:
				writeInstances(w, 11, all(api.HealthCritical, 1, 2, 3)...)
			case 3: // still all critical, a check output changed
				writeInstances(w, 12, instance{1, api.HealthCritical}, instance{2, api.HealthWarning}, instance{3, api.HealthCritical})
			case 4:
				writeInstances(w, 13, instance{1, api.HealthCritical}, instance{2, api.HealthPassing}, instance{3, api.HealthCritical})
			default:
				block(r)
			}
		})
	q := mustWeb(t)
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitPorts(q, "[2]")
	reqs := h.waitRequests(5)
	for _, r := range reqs {
		if strings.Contains(r.query, "passing") {
			t.Errorf("query %q asks Consul to filter: the rule cannot tell failing from gone", r.query)
		}
	}
	logs := h.logLines()
	if got := fmt.Sprint(delivered(logs, q)); got != "[3 1]" {
		t.Errorf("delivered item counts %s, want [3 1]: the empty answers got through", got)
	}
	warns := logged(logs, msgKeeping)
	if len(warns) != 1 {
		t.Fatalf("%d keep-last warnings, want 1 for the episode:\n%s", len(warns), h.logs)
	}
	if l := warns[0]; l["level"] != "WARN" || l["service"] != "web" || l["kept"] != 3.0 || l["failing"] != 3.0 {
		t.Errorf("keep-last warning %v", l)
	}
	if ended := logged(logs, msgKeepingEnd); len(ended) != 1 || ended[0]["passing"] != 1.0 {
		t.Errorf("end of episode logs %v", ended)
	}
	if held := logged(logs, msgHolding); len(held) != 0 {
		t.Errorf("the hold rule saw an empty answer: %v", held)
	}
	want := "keep_last health.service(web|passing) true; keep_last health.service(web|passing) false"
	if got := guards.String(); got != want {
		t.Errorf("Guarded calls %q, want %q", got, want)
	}
}

// TestKeepLastDeregistered: an empty answer with no instance registered is
// not the rule's; the hold rule judges it, and it is delivered.
func TestKeepLastDeregistered(t *testing.T) {
	guards := &guardLog{}
	h := newHarness(t, "", Options{HoldEmpty: 100 * time.Millisecond, Guarded: guards.record},
		func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
			switch {
			case n == 1:
				writeInstances(w, 10, all(api.HealthPassing, 1, 2, 3)...)
			case n == 2:
				writeInstances(w, 11, instance{1, api.HealthMaint}, instance{4, api.HealthCritical}) // web-4 is new
			default:
				if waitWait(r) {
					writeInstances(w, 11, instance{1, api.HealthMaint}, instance{4, api.HealthCritical})
				}
			}
		})
	q := mustWeb(t)
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitPorts(q, "[1 2 3]")
	h.waitPorts(q, "[]")
	logs := h.logLines()
	if w := logged(logs, msgKeeping); len(w) != 0 {
		t.Errorf("kept instances that are gone or in maintenance: %v", w)
	}
	if r := logged(logs, msgReleased); len(r) != 1 {
		t.Errorf("want the hold rule to hold and release the empty answer, logs:\n%s", h.logs)
	}
	if g := guards.String(); g != "" {
		t.Errorf("Guarded calls %q, want none", g)
	}
}

func TestKeepLastAllowEmpty(t *testing.T) {
	h := newHarness(t, "", Options{HoldEmpty: -1, AllowEmpty: true},
		func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
			switch n {
			case 1:
				writeInstances(w, 10, all(api.HealthPassing, 1, 2, 3)...)
			case 2:
				writeInstances(w, 11, all(api.HealthCritical, 1, 2, 3)...)
			default:
				block(r)
			}
		})
	q := mustWeb(t)
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitPorts(q, "[]")
	if r := h.requests(); !strings.Contains(r[0].query, "passing") {
		t.Errorf("with AllowEmpty, Consul filters as before: query %q", r[0].query)
	}
	if w := logged(h.logLines(), msgKeeping); len(w) != 0 {
		t.Errorf("AllowEmpty kept: %v", w)
	}
}

// TestKeepLastOnlyPassingQueries: a query that accepts failing states has
// nothing to keep; it is asked as before.
func TestKeepLastOnlyPassingQueries(t *testing.T) {
	for _, s := range []string{"web|passing,warning", "web|any", "web|critical"} {
		q, err := NewHealthServiceQuery(s)
		if err != nil {
			t.Fatal(err)
		}
		if k := newKeeper(q, Options{}, nil); k != nil {
			t.Errorf("%s: keep-last applies", s)
		}
	}
	if k := newKeeper(mustWeb(t), Options{}, nil); k == nil {
		t.Error("web: keep-last does not apply to the default filter")
	}
}
