package watch

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustKV(t *testing.T, s string) *KVGetQuery {
	t.Helper()
	q, err := NewKVGetQuery(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestWatcherIndexBackwardsResets(t *testing.T) {
	h := newHarness(t, "", Options{}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			writeKV(w, 10, "k", "a")
		case 2:
			writeKV(w, 5, "k", "b") // went backwards: dropped, index reset
		case 3:
			writeKV(w, 6, "k", "c")
		default:
			block(r)
		}
	})
	q := mustKV(t, "k")
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitFor(q, "c")
	got := h.waitRequests(4)
	wantIdx := []uint64{0, 10, 0, 6}
	for i, want := range wantIdx {
		if got[i].index != want {
			t.Errorf("request %d: index %d, want %d (all: %+v)", i+1, got[i].index, want, got)
		}
	}
}

func TestWatcherIndexZeroDoesNotBlock(t *testing.T) {
	h := newHarness(t, "", Options{}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			writeKV(w, 0, "k", "a")
		case 2:
			writeKV(w, 3, "k", "b")
		default:
			block(r)
		}
	})
	q := mustKV(t, "k")
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitFor(q, "b")
	got := h.waitRequests(3)
	for i, want := range []uint64{0, 0, 3} {
		if got[i].index != want {
			t.Errorf("request %d: index %d, want %d", i+1, got[i].index, want)
		}
	}
}

func TestWatcherRetries500WithBackoff(t *testing.T) {
	const token = "s3cr3t-t0ken-value"
	var (
		mu       sync.Mutex
		observed []string
	)
	o := Options{Observe: func(endpoint string, err error) {
		mu.Lock()
		defer mu.Unlock()
		observed = append(observed, endpoint+" "+map[bool]string{true: "error", false: "ok"}[err != nil])
	}}
	h := newHarness(t, token, o, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1, 2, 3, 5:
			http.Error(w, "rpc error: no leader", http.StatusInternalServerError)
		case 4:
			writeKV(w, 7, "k", "v1")
		case 6:
			writeKV(w, 8, "k", "v2")
		default:
			block(r)
		}
	})
	q := mustKV(t, "k")
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitFor(q, "v2")
	reqs := h.waitRequests(7)

	for i, r := range reqs {
		if r.token != token {
			t.Errorf("request %d: token header %q", i+1, r.token)
		}
		if strings.Contains(r.query, token) {
			t.Errorf("request %d: token in the URL query %q", i+1, r.query)
		}
	}

	var attempts []float64
	var backoffs []time.Duration
	for _, l := range h.logLines() {
		if l["level"] != "WARN" {
			continue
		}
		for _, k := range []string{"dependency", "attempt", "backoff", "error"} {
			if _, ok := l[k]; !ok {
				t.Errorf("warn line without %q: %v", k, l)
			}
		}
		if l["dependency"] != "kv.get(k)" {
			t.Errorf("dependency = %v", l["dependency"])
		}
		if !strings.Contains(l["error"].(string), "500") {
			t.Errorf("error = %v", l["error"])
		}
		attempts = append(attempts, l["attempt"].(float64))
		backoffs = append(backoffs, time.Duration(l["backoff"].(float64)))
	}
	// Three failures in a row, a success resets the count, one more.
	want := []float64{1, 2, 3, 1}
	if len(attempts) != len(want) {
		t.Fatalf("attempts %v, want %v", attempts, want)
	}
	for i := range want {
		if attempts[i] != want[i] {
			t.Fatalf("attempts %v, want %v", attempts, want)
		}
	}
	// 5ms base, 20ms cap, up to a quarter off: grows, then resets.
	if !(backoffs[0] < backoffs[1] && backoffs[1] < backoffs[2] && backoffs[3] < backoffs[1]) {
		t.Errorf("backoffs %v do not grow and reset", backoffs)
	}
	if strings.Contains(h.logs.String(), token) {
		t.Error("token appears in the logs")
	}

	mu.Lock()
	defer mu.Unlock()
	wantObs := []string{"kv/get error", "kv/get error", "kv/get error", "kv/get ok", "kv/get error", "kv/get ok"}
	if len(observed) < len(wantObs) {
		t.Fatalf("observed %v, want prefix %v", observed, wantObs)
	}
	for i := range wantObs {
		if observed[i] != wantObs[i] {
			t.Fatalf("observed %v, want prefix %v", observed, wantObs)
		}
	}
}

func TestWatcherRetriesCutConnection(t *testing.T) {
	h := newHarness(t, "", Options{}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			cutConnection(t, w)
		case 2:
			writeKV(w, 2, "k", "after-cut")
		default:
			block(r)
		}
	})
	q := mustKV(t, "k")
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitFor(q, "after-cut")
	var warned bool
	for _, l := range h.logLines() {
		if l["level"] == "WARN" && l["attempt"] == float64(1) {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no retry logged:\n%s", h.logs)
	}
}

func TestWatcherDropsUnchangedAnswers(t *testing.T) {
	gate := make(chan struct{})
	h := newHarness(t, "", Options{}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			writeKV(w, 1, "k", "a")
		case 2:
			writeKV(w, 2, "k", "a") // new index, same content
		case 3:
			writeKV(w, 2, "k", "ignored") // same index: skipped
		case 4:
			writeKV(w, 3, "k", "a")
		case 5:
			select {
			case <-gate:
				writeKV(w, 4, "k", "b")
			case <-r.Context().Done():
			}
		default:
			block(r)
		}
	})
	q := mustKV(t, "k")
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitFor(q, "a")
	// Request 5 arrives only after answers 2 to 4 were handled.
	h.waitRequests(5)
	select {
	case <-h.w.Updates():
		t.Fatal("update signalled for unchanged content")
	default:
	}
	if got, _ := h.w.Snapshot().Get(q); got != "a" {
		t.Fatalf("data = %v, want a", got)
	}
	close(gate)
	h.waitFor(q, "b")
}

func TestWatcherKVAbsent(t *testing.T) {
	h := newHarness(t, "", Options{}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("index") == "" {
			writeNotFound(w, 4)
			return
		}
		block(r)
	})
	exists := mustKV(t, "missing")
	blocking := mustKV(t, "missing")
	blocking.EnableBlocking()
	h.w.Watch(t.Context(), []Dependency{exists, blocking})
	h.waitRequests(4) // both answered, both blocking again
	snap := h.w.Snapshot()
	if v, ok := snap.Get(exists); !ok || v != nil {
		t.Errorf("kv.get of absent key = %v, %v; want nil, true", v, ok)
	}
	if _, ok := snap.Get(blocking); ok {
		t.Error("kv.block of absent key was delivered")
	}
	missing := snap.Missing([]Dependency{exists, blocking})
	if len(missing) != 1 || missing[0].String() != "kv.block(missing)" {
		t.Errorf("missing = %v", missing)
	}
}

func TestWatcherMaxStale(t *testing.T) {
	h := newHarness(t, "", Options{MaxStale: time.Second}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			w.Header().Set("X-Consul-LastContact", "5000") // ms: too stale
			writeKV(w, 1, "k", "stale")
		case 2:
			w.Header().Set("X-Consul-LastContact", "0")
			writeKV(w, 1, "k", "fresh")
		default:
			block(r)
		}
	})
	q := mustKV(t, "k")
	h.w.Watch(t.Context(), []Dependency{q})
	reqs := h.waitRequests(3)
	// Had the stale answer been kept, the fresh one (same index) would
	// have been skipped.
	if got, _ := h.w.Snapshot().Get(q); got != "fresh" {
		t.Errorf("data = %v, want fresh", got)
	}
	for i, want := range []bool{true, false, true} {
		if reqs[i].stale != want {
			t.Errorf("request %d: stale=%v, want %v", i+1, reqs[i].stale, want)
		}
	}
}

func TestWatcherWatchReplacesSet(t *testing.T) {
	h := newHarness(t, "", Options{}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("index") == "" {
			writeKV(w, 1, strings.TrimPrefix(r.URL.Path, "/v1/kv/"), "v-"+r.URL.Path)
			return
		}
		block(r)
	})
	a, b := mustKV(t, "a"), mustKV(t, "b")
	h.w.Watch(t.Context(), []Dependency{a, b})
	h.waitFor(a, "v-/v1/kv/a")
	h.waitFor(b, "v-/v1/kv/b")
	if got := h.w.Snapshot().Len(); got != 2 {
		t.Fatalf("Len = %d", got)
	}

	h.w.Watch(t.Context(), []Dependency{mustKV(t, "b")}) // same identity as b
	snap := h.w.Snapshot()
	if _, ok := snap.Get(a); ok {
		t.Error("data of a dropped dependency is still there")
	}
	if _, ok := snap.Get(b); !ok {
		t.Error("data of a kept dependency was lost")
	}
	if m := snap.Missing([]Dependency{a, b}); len(m) != 1 || m[0] != Dependency(a) {
		t.Errorf("Missing = %v", m)
	}

	// b was not restarted: no new first query for it.
	time.Sleep(50 * time.Millisecond)
	var firstB int
	for _, r := range h.requests() {
		if r.path == "/v1/kv/b" && r.index == 0 {
			firstB++
		}
	}
	if firstB != 1 {
		t.Errorf("b queried from index 0 %d times, want 1", firstB)
	}
}

func TestWatcherStopIsPrompt(t *testing.T) {
	h := newHarness(t, "", Options{WaitTime: time.Minute}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		block(r) // every query hangs like a long blocking query
	})
	var deps []Dependency
	for _, k := range []string{"a", "b", "c"} {
		deps = append(deps, mustKV(t, k))
	}
	svc, err := NewHealthServiceQuery("web")
	if err != nil {
		t.Fatal(err)
	}
	deps = append(deps, svc)
	h.w.Watch(t.Context(), deps)
	h.waitRequests(len(deps))

	start := time.Now()
	h.w.Stop()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Stop took %v", d)
	}
	h.w.Watch(t.Context(), deps) // no effect after Stop
	if got := h.w.Snapshot().Len(); got != 0 {
		t.Errorf("Len = %d after Stop", got)
	}
	// The harness cleanup checks that no goroutine is left.
}

func TestWatcherStopsWithContext(t *testing.T) {
	h := newHarness(t, "", Options{}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		block(r)
	})
	q := mustKV(t, "a")
	ctx, cancel := contextWithCancel(t)
	h.w.Watch(ctx, []Dependency{q})
	h.waitRequests(1)
	cancel()
	// Once the goroutine is gone, a new Watch starts the dependency again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.w.Watch(t.Context(), []Dependency{q})
		if len(h.requests()) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.waitRequests(2)
}
