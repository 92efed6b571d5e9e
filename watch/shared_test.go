package watch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"
)

// startShared fills f with services × 2 instances (instance j of service k
// on node-(k%5), each with a passing check), and watches them all through
// the shared queries of a client made by NewClient (so over the bounded
// transport). It waits until every service has answered. set, if any,
// changes the Options first.
func startShared(t *testing.T, f *fakeCatalog, services int, set ...func(*Options)) (*Watcher, []*HealthServiceQuery) {
	t.Helper()
	for k := range services {
		for j := range 2 {
			f.register(fakeInst{node: fmt.Sprintf("node-%d", k%5), id: fmt.Sprintf("svc-%02d-%d", k, j),
				name: fmt.Sprintf("svc-%02d", k), addr: fmt.Sprintf("10.1.%d.%d", k, j), port: 80, status: "passing"})
		}
	}
	client, err := NewClient(ClientConfig{Address: f.addr()})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Shared: true, WaitTime: 2 * time.Second, MinInterval: time.Millisecond,
		Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, HoldEmpty: 200 * time.Millisecond, Logger: testLogger(t)}
	for _, f := range set {
		f(&o)
	}
	w := New(client, o)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); w.Stop() })
	var deps []Dependency
	var qs []*HealthServiceQuery
	for k := range services {
		q, err := NewHealthServiceQuery(fmt.Sprintf("svc-%02d", k))
		if err != nil {
			t.Fatal(err)
		}
		deps, qs = append(deps, q), append(qs, q)
	}
	w.Watch(ctx, deps)
	for _, q := range qs {
		waitShared(t, w, q, "2 instances", func(l []*HealthService) bool { return len(l) == 2 })
	}
	return w, qs
}

// waitShared waits until the data of d satisfies ok.
func waitShared(t *testing.T, w *Watcher, d Dependency, what string, ok func([]*HealthService) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, _ := w.Snapshot().Get(d)
		l, _ := v.([]*HealthService)
		if v != nil && ok(l) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %s after 5s; have %d instances", d, what, len(l))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settled waits until no service has been fetched for 200ms, then returns
// which services were fetched since the last reset.
func settled(f *fakeCatalog) map[string]int {
	_, last := f.counts()
	for range 20 {
		time.Sleep(200 * time.Millisecond)
		_, now := f.counts()
		if maps.Equal(now, last) {
			break
		}
		last = now
	}
	return last
}

func onlyFetched(t *testing.T, step string, got map[string]int, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: fetched %v, want only %v", step, got, want)
		return
	}
	for _, name := range want {
		if got[name] == 0 {
			t.Errorf("%s: fetched %v, want only %v", step, got, want)
		}
	}
}

func TestSharedFetchesOnlyWhatChanged(t *testing.T) {
	f := newFakeCatalog(t)
	w, qs := startShared(t, f, 20)

	f.resetCounts()
	f.setStatus("svc-03-0", "critical")
	waitShared(t, w, qs[3], "1 passing instance", func(l []*HealthService) bool { return len(l) == 1 })
	onlyFetched(t, "a check fails (patched, no fetch)", settled(f))

	f.resetCounts()
	f.register(fakeInst{node: "node-0", id: "svc-05-2", name: "svc-05", addr: "10.9.9.9", port: 81, status: "passing"})
	waitShared(t, w, qs[5], "3 instances", func(l []*HealthService) bool { return len(l) == 3 })
	onlyFetched(t, "an instance with a check registers", settled(f), "svc-05")

	f.resetCounts()
	f.deregister("svc-09-0")
	waitShared(t, w, qs[9], "1 instance", func(l []*HealthService) bool { return len(l) == 1 })
	onlyFetched(t, "an instance with a check leaves", settled(f), "svc-09")

	f.resetCounts()
	f.setNodeAddr("node-1", "10.7.7.7")
	for _, k := range []int{1, 6, 11, 16} {
		waitShared(t, w, qs[k], "the new node address", func(l []*HealthService) bool {
			return len(l) == 2 && l[0].NodeAddress == "10.7.7.7"
		})
	}
	onlyFetched(t, "a node moves", settled(f), "svc-01", "svc-06", "svc-11", "svc-16")

	// An address change moves no check and no tag: nothing names the
	// service, so every watched service is fetched again, once.
	f.resetCounts()
	f.setAddr("svc-07-1", "10.8.8.8")
	waitShared(t, w, qs[7], "the new address", func(l []*HealthService) bool {
		return len(l) == 2 && l[1].Address == "10.8.8.8"
	})
	got := settled(f)
	if len(got) != 20 {
		t.Errorf("an unattributable change fetched %d services (%v), want all 20", len(got), got)
	}
	for name, n := range got {
		if n > 2 {
			t.Errorf("an unattributable change fetched %s %d times", name, n)
		}
	}
}

func TestSharedConnectionBound(t *testing.T) {
	f := newFakeCatalog(t)
	w, qs := startShared(t, f, 120)
	for k := range 30 {
		f.setStatus(fmt.Sprintf("svc-%02d-0", k), "critical")
	}
	for k := range 30 {
		waitShared(t, w, qs[k], "1 passing instance", func(l []*HealthService) bool { return len(l) == 1 })
	}
	f.mu.Lock()
	most := f.maxConns
	f.mu.Unlock()
	if most > SharedMaxConns {
		t.Errorf("120 services took %d connections at once, want at most %d", most, SharedMaxConns)
	}
	requests, _ := f.counts()
	if n := requests["/v1/health/service/svc-100"]; n > 3 {
		t.Errorf("an unchanged service was fetched %d times, want its first fetch (and at most a refetch or two)", n)
	}
}

func TestSharedServiceErrorIsRetried(t *testing.T) {
	f := newFakeCatalog(t)
	w, qs := startShared(t, f, 4)
	var failed int
	f.mu.Lock()
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v1/health/service/svc-02" || failed >= 2 {
			return false
		}
		failed++
		http.Error(w, "rpc error", http.StatusInternalServerError)
		return true
	}
	f.mu.Unlock()
	f.register(fakeInst{node: "node-0", id: "svc-02-2", name: "svc-02", addr: "10.9.9.9", port: 81, status: "passing"})
	waitShared(t, w, qs[2], "3 instances", func(l []*HealthService) bool { return len(l) == 3 })
	f.mu.Lock()
	n := failed
	f.mu.Unlock()
	if n != 2 {
		t.Errorf("the fake failed %d fetches, want 2 (the test did not test the retry)", n)
	}
}

func TestSharedTriggerCutAndRestart(t *testing.T) {
	f := newFakeCatalog(t)
	w, qs := startShared(t, f, 6)

	// The checks trigger's answer is cut short: every service is fetched
	// again once it answers, and changes are attributed again after.
	cut := 0
	f.mu.Lock()
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v1/health/state/any" || r.URL.Query().Get("index") == "" || cut > 0 {
			return false
		}
		cut++
		abortAnswer(w)
		return true
	}
	f.mu.Unlock()
	f.resetCounts()
	f.setStatus("svc-01-0", "critical") // wakes the trigger, whose answer is cut
	waitShared(t, w, qs[1], "1 passing instance", func(l []*HealthService) bool { return len(l) == 1 })
	if got := settled(f); len(got) != 6 {
		t.Errorf("after a cut trigger, fetched %v, want all 6 services again", got)
	}
	f.resetCounts()
	f.setStatus("svc-04-0", "critical")
	waitShared(t, w, qs[4], "1 passing instance", func(l []*HealthService) bool { return len(l) == 1 })
	onlyFetched(t, "a check fails after the cut", settled(f))
	f.resetCounts()
	f.deregister("svc-04-1")
	waitShared(t, w, qs[4], "no passing instance left", func(l []*HealthService) bool { return len(l) == 0 })
	onlyFetched(t, "an instance leaves after the cut", settled(f), "svc-04")

	// Every index goes backwards (a -dev agent restarted): every service
	// again, and the data follows.
	f.resetCounts()
	f.restart()
	f.setStatus("svc-05-1", "critical")
	waitShared(t, w, qs[5], "1 passing instance", func(l []*HealthService) bool { return len(l) == 1 })
	if got := settled(f); len(got) != 6 {
		t.Errorf("after indexes went backwards, fetched %v, want all 6 services again", got)
	}
}

// abortAnswer starts an answer and cuts the connection in its middle, as
// a dying agent does (a cut before any byte is retried by net/http).
func abortAnswer(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Consul-Index", "1000")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(`[{"Node":`))
	http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

func testLogger(t *testing.T) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestSharedServicesFromTrigger(t *testing.T) {
	f := newFakeCatalog(t)
	w, _ := startShared(t, f, 3)
	all, err := NewCatalogServicesQuery("")
	if err != nil {
		t.Fatal(err)
	}
	deps := []Dependency{all}
	for k := range 3 {
		q, _ := NewHealthServiceQuery(fmt.Sprintf("svc-%02d", k))
		deps = append(deps, q)
	}
	w.Watch(context.Background(), deps)
	names := func() []string {
		v, _ := w.Snapshot().Get(all)
		list, _ := v.([]*CatalogSnippet)
		var out []string
		for _, s := range list {
			out = append(out, s.Name)
		}
		return out
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(names()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("services: %v after 5s", names())
		}
		time.Sleep(5 * time.Millisecond)
	}
	settled(f)
	f.resetCounts()
	f.register(fakeInst{node: "node-0", id: "new-0", name: "svc-new", addr: "10.3.3.3", port: 80, status: "passing"})
	for len(names()) < 4 {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("services: %v, want svc-new too", names())
		}
		time.Sleep(5 * time.Millisecond)
	}
	settled(f)
	requests, _ := f.counts()
	if n := requests["/v1/catalog/services"]; n != 1 {
		t.Errorf("a new service cost %d catalog/services requests, want 1: the trigger's, shared by the services dependency", n)
	}
}

// TestSharedProbeSkipsTheWait: an instance with no check moves, and the
// checks trigger never answers. Consul's checks index, asked once, says no
// check changed, so the change is applied without waiting for the trigger
// (here a minute: the test would time out).
func TestSharedProbeSkipsTheWait(t *testing.T) {
	f := newFakeCatalog(t)
	w, qs := startShared(t, f, 3, func(o *Options) { o.explainWait = time.Minute })
	f.register(fakeInst{node: "node-0", id: "bare", name: "svc-01", addr: "10.5.5.5", port: 80})
	waitShared(t, w, qs[1], "the instance with no check", func(l []*HealthService) bool { return len(l) == 3 })

	f.mu.Lock()
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v1/health/state/any" || r.URL.Query().Get("index") == "" {
			return false // the probe, and every other query, is answered
		}
		<-r.Context().Done() // the trigger's blocking query never is
		return true
	}
	f.mu.Unlock()
	f.resetCounts()
	f.setAddr("bare", "10.6.6.6")
	waitShared(t, w, qs[1], "the moved instance", func(l []*HealthService) bool {
		return slices.ContainsFunc(l, func(s *HealthService) bool { return s.ID == "bare" && s.Address == "10.6.6.6" })
	})
	if got, _ := f.counts(); got["/v1/health/state/any"] != 1 {
		t.Errorf("health/state/any asked %d times for the move, want the one probe", got["/v1/health/state/any"])
	}
}
