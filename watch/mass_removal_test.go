package watch

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func TestMassRemoval(t *testing.T) {
	for _, tc := range []struct {
		prev, now, pct int
		want           bool
	}{
		{5, 1, 50, true},  // 80%
		{5, 2, 50, true},  // 60%
		{5, 3, 50, false}, // 40%
		{4, 2, 50, false}, // exactly 50% is not more
		{4, 1, 50, true},
		{4, 0, 50, true},
		{3, 0, 50, false}, // below minRemovalBase
		{2, 1, 50, false},
		{10, 7, 25, true},
		{10, 8, 25, false},
		{5, 5, 50, false},
		{5, 6, 50, false},
		{-1, 0, 50, false}, // nothing delivered yet
		{5, -1, 50, false}, // not a list
		{5, 0, 0, false},   // disabled
		{5, 0, 100, false},
		{5, 0, -1, false},
		{100, 49, 50, true},
		{100, 50, 50, false},
	} {
		if got := massRemoval(tc.prev, tc.now, tc.pct); got != tc.want {
			t.Errorf("massRemoval(%d, %d, %d%%) = %v, want %v", tc.prev, tc.now, tc.pct, got, tc.want)
		}
	}
	if p := removedPercent(5, 1); p != 80 {
		t.Errorf("removedPercent(5, 1) = %d", p)
	}
}

// TestHoldJudge: one clock for the held answer, whichever rule holds it,
// and the longest hold any rule wants for the latest answer.
func TestHoldJudge(t *testing.T) {
	type answer struct {
		at      time.Duration
		limit   time.Duration
		want    holdVerdict
		heldFor time.Duration
	}
	for _, tc := range []struct {
		name    string
		answers []answer
	}{
		{"mass removal held, then delivered", []answer{
			{0, 30 * time.Second, startHold, 0},
			{10 * time.Second, 30 * time.Second, keepHolding, 10 * time.Second},
			{30 * time.Second, 30 * time.Second, releaseHeld, 30 * time.Second},
		}},
		{"recovery cancels", []answer{
			{0, 30 * time.Second, startHold, 0},
			{time.Second, 0, replaceHeld, time.Second},
			{2 * time.Second, 0, deliverAnswer, 0},
		}},
		{"empty hold then mass: longest counts from the first held answer", []answer{
			{0, 5 * time.Second, startHold, 0},
			{3 * time.Second, 30 * time.Second, keepHolding, 3 * time.Second},
			{6 * time.Second, 30 * time.Second, keepHolding, 6 * time.Second},
			{30 * time.Second, 30 * time.Second, releaseHeld, 30 * time.Second},
		}},
		{"mass then only the empty rule: its shorter hold is over", []answer{
			{0, 30 * time.Second, startHold, 0},
			{6 * time.Second, 5 * time.Second, releaseHeld, 6 * time.Second},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Unix(1000, 0)
			var h holdState
			for i, a := range tc.answers {
				v, heldFor := h.judge(t0.Add(a.at), a.limit)
				if v != a.want || heldFor != a.heldFor {
					t.Fatalf("answer %d: verdict %d held_for %v, want %d %v", i+1, v, heldFor, a.want, a.heldFor)
				}
			}
		})
	}
	var h holdState
	t0 := time.Unix(1000, 0)
	h.judge(t0, 30*time.Second)
	if r := h.remaining(t0.Add(10 * time.Second)); r != 20*time.Second {
		t.Errorf("remaining of a 30s hold after 10s = %v", r)
	}
}

func TestRemovalGuardAppliesToServices(t *testing.T) {
	o := Options{}.withDefaults()
	cat, _ := NewCatalogServiceQuery("web")
	any, _ := NewHealthServiceQuery("web|any")
	for _, d := range []Dependency{mustWeb(t), cat, any} {
		if newRemovalGuard(d, o, o.Logger) == nil {
			t.Errorf("%s: no mass-removal rule", d)
		}
	}
	kv, _ := NewKVListQuery("app/")
	if newRemovalGuard(kv, o, o.Logger) != nil {
		t.Error("a KV list is judged as a service")
	}
	for _, off := range []Options{{MaxRemovalPercent: 100}, {MaxRemovalPercent: -1}, {RemovalHold: -1}} {
		off = off.withDefaults()
		if newRemovalGuard(mustWeb(t), off, off.Logger) != nil {
			t.Errorf("%+v does not disable the rule", off)
		}
	}
}

const (
	msgMassHolding   = "mass removal, holding it back"
	msgMassDelivered = "mass removal still true after the hold, delivering it"
	msgMassCancelled = "mass removal hold cancelled, a newer answer is not one"
)

func TestMassRemovalHeldThenDelivered(t *testing.T) {
	const hold = 300 * time.Millisecond
	var (
		mu        sync.Mutex
		removedAt time.Time
	)
	guards := &guardLog{}
	h := newHarness(t, "", Options{RemovalHold: hold, Guarded: guards.record},
		func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
			switch n {
			case 1:
				writeInstances(w, 10, all(api.HealthPassing, 1, 2, 3, 4, 5)...)
			case 2:
				mu.Lock()
				removedAt = time.Now()
				mu.Unlock()
				writeInstances(w, 11, all(api.HealthPassing, 5)...)
			default:
				if waitWait(r) {
					writeInstances(w, 11, all(api.HealthPassing, 5)...)
				}
			}
		})
	q := mustWeb(t)
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitPorts(q, "[1 2 3 4 5]")
	h.waitPorts(q, "[5]")
	mu.Lock()
	took := time.Since(removedAt)
	mu.Unlock()
	if took < hold {
		t.Errorf("mass removal delivered %v after it came, want after the %v hold", took, hold)
	}
	logs := h.logLines()
	if got := fmt.Sprint(delivered(logs, q)); got != "[5 1]" {
		t.Errorf("delivered item counts %s, want [5 1]", got)
	}
	warns := logged(logs, msgMassHolding)
	if len(warns) != 1 {
		t.Fatalf("%d mass-removal warnings, want 1:\n%s", len(warns), h.logs)
	}
	if l := warns[0]; l["level"] != "WARN" || l["items_before"] != 5.0 || l["items_now"] != 1.0 ||
		l["removed_percent"] != 80.0 || l["max_removal_percent"] != 50.0 || l["hold"] != float64(hold) {
		t.Errorf("mass-removal warning %v", l)
	}
	if d := logged(logs, msgMassDelivered); len(d) != 1 || d[0]["level"] != "WARN" {
		t.Errorf("delivered-after-hold logs %v", d)
	}
	if held := logged(logs, msgHolding); len(held) != 0 {
		t.Errorf("the hold rule warned of a restart for a non-empty shrink: %v", held)
	}
	want := "mass_removal health.service(web|passing) true; mass_removal health.service(web|passing) false"
	if got := guards.String(); got != want {
		t.Errorf("Guarded calls %q, want %q", got, want)
	}
}

func TestMassRemovalCancelledByRecovery(t *testing.T) {
	h := newHarness(t, "", Options{RemovalHold: time.Minute},
		func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
			switch n {
			case 1:
				writeInstances(w, 10, all(api.HealthPassing, 1, 2, 3, 4, 5)...)
			case 2:
				writeInstances(w, 11, all(api.HealthPassing, 5)...)
			case 3: // most come back: 40% removed is not a mass removal
				writeInstances(w, 12, all(api.HealthPassing, 1, 2, 5)...)
			default:
				block(r)
			}
		})
	q := mustWeb(t)
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitPorts(q, "[1 2 5]")
	logs := h.logLines()
	if got := fmt.Sprint(delivered(logs, q)); got != "[5 3]" {
		t.Errorf("delivered item counts %s, want [5 3]: the mass removal got through", got)
	}
	if c := logged(logs, msgMassCancelled); len(c) != 1 || c[0]["items_now"] != 3.0 {
		t.Errorf("cancel logs %v\n%s", c, h.logs)
	}
}

// TestMassRemovalAndEmpty: a service deregistered entirely is held for the
// longer hold, once.
func TestMassRemovalAndEmpty(t *testing.T) {
	const hold = 400 * time.Millisecond
	var (
		mu      sync.Mutex
		emptyAt time.Time
	)
	h := newHarness(t, "", Options{HoldEmpty: 100 * time.Millisecond, RemovalHold: hold},
		func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
			switch n {
			case 1:
				writeInstances(w, 10, all(api.HealthPassing, 1, 2, 3, 4)...)
			case 2:
				mu.Lock()
				emptyAt = time.Now()
				mu.Unlock()
				writeInstances(w, 11)
			default:
				if waitWait(r) {
					writeInstances(w, 11)
				}
			}
		})
	q := mustWeb(t)
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitPorts(q, "[1 2 3 4]")
	h.waitPorts(q, "[]")
	mu.Lock()
	took := time.Since(emptyAt)
	mu.Unlock()
	if took < hold {
		t.Errorf("empty answer delivered after %v, want after the %v mass-removal hold", took, hold)
	}
	logs := h.logLines()
	if n := len(logged(logs, msgHolding)) + len(logged(logs, msgMassHolding)); n != 2 {
		t.Errorf("%d hold warnings, want one per rule:\n%s", n, h.logs)
	}
	if r := logged(logs, msgReleased); len(r) != 1 {
		t.Errorf("released %d times, want once: %v", len(r), r)
	}
}
