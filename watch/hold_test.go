package watch

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func TestSuspectReason(t *testing.T) {
	for _, tc := range []struct {
		prev, now          int
		recovering, leader bool
		want               string
	}{
		{3, 3, false, true, ""},
		{3, 4, true, false, ""}, // growing is never suspect
		{3, 2, false, true, ""}, // a normal deregistration
		{3, 0, false, true, suspectEmpty},
		{3, 0, true, false, suspectEmpty},
		{3, 1, true, true, suspectRecovering},
		{3, 2, false, false, suspectNoLeader},
		{0, 0, true, false, ""},
		// Nothing delivered yet: only an empty first answer after a
		// failure or without a leader is suspect.
		{-1, 0, true, true, suspectRecovering},
		{-1, 0, true, false, suspectRecovering},
		{-1, 0, false, false, suspectNoLeader},
		{-1, 0, false, true, ""}, // a healthy agent's empty service
		{-1, 2, true, false, ""},
		{3, -1, true, false, ""}, // not a list
		{-1, -1, true, false, ""},
	} {
		if got := suspectReason(tc.prev, tc.now, tc.recovering, tc.leader); got != tc.want {
			t.Errorf("suspectReason(%d, %d, recovering=%v, leader=%v) = %q, want %q",
				tc.prev, tc.now, tc.recovering, tc.leader, got, tc.want)
		}
	}
}

func TestHoldDecide(t *testing.T) {
	type answer struct {
		at                 time.Duration // since t0
		prev, now          int
		recovering, leader bool
		want               holdVerdict
		heldFor            time.Duration
	}
	const hold = 5 * time.Second
	for _, tc := range []struct {
		name    string
		hold    time.Duration
		answers []answer
	}{
		{"normal shrink delivered at once", hold, []answer{
			{0, 3, 2, false, true, deliverAnswer, 0},
			{time.Second, 2, 1, false, true, deliverAnswer, 0},
		}},
		{"empty held, then replaced by full", hold, []answer{
			{0, 3, 0, false, true, startHold, 0},
			{time.Second, 3, 0, false, true, keepHolding, time.Second},
			{2 * time.Second, 3, 3, false, true, replaceHeld, 2 * time.Second},
			{3 * time.Second, 3, 0, false, true, startHold, 0}, // a new hold
		}},
		{"empty for the whole hold is delivered", hold, []answer{
			{0, 3, 0, false, true, startHold, 0},
			{4 * time.Second, 3, 0, false, true, keepHolding, 4 * time.Second},
			{5 * time.Second, 3, 0, false, true, releaseHeld, 5 * time.Second},
			{6 * time.Second, 0, 0, false, true, deliverAnswer, 0},
		}},
		{"hold measured from the first held answer", hold, []answer{
			{0, 3, 0, true, true, startHold, 0},
			{3 * time.Second, 3, 1, true, true, keepHolding, 3 * time.Second},
			{5 * time.Second, 3, 2, true, true, releaseHeld, 5 * time.Second},
		}},
		{"recovery shrink replaced by larger", hold, []answer{
			{0, 3, 1, true, true, startHold, 0},
			{time.Second, 3, 4, true, true, replaceHeld, time.Second},
		}},
		{"no leader shrink held, leader back confirms it", hold, []answer{
			{0, 3, 2, false, false, startHold, 0},
			{time.Second, 3, 2, false, true, replaceHeld, time.Second},
		}},
		{"first empty answer after a failure held, replaced", hold, []answer{
			{0, -1, 0, true, true, startHold, 0},
			{time.Second, -1, 1, true, true, replaceHeld, time.Second},
		}},
		{"first empty answer from a healthy agent delivered", hold, []answer{
			{0, -1, 0, false, true, deliverAnswer, 0},
		}},
		{"not a list", hold, []answer{
			{0, -1, -1, true, false, deliverAnswer, 0},
		}},
		{"disabled", -1, []answer{
			{0, 3, 0, true, false, deliverAnswer, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Unix(1000, 0)
			h := holdState{hold: tc.hold}
			for i, a := range tc.answers {
				v, heldFor := h.decide(t0.Add(a.at), a.prev, a.now, a.recovering, a.leader)
				if v != a.want || heldFor != a.heldFor {
					t.Fatalf("answer %d: verdict %d held_for %v, want %d %v", i+1, v, heldFor, a.want, a.heldFor)
				}
				if h.holding() != (v == startHold || v == keepHolding) {
					t.Fatalf("answer %d: holding = %v after verdict %d", i+1, h.holding(), v)
				}
			}
		})
	}
}

func TestHoldRemaining(t *testing.T) {
	t0 := time.Unix(1000, 0)
	h := holdState{hold: 300 * time.Millisecond}
	if r := h.remaining(t0); r != 0 {
		t.Errorf("remaining with nothing held = %v", r)
	}
	h.decide(t0, 3, 0, false, true)
	if r := h.remaining(t0.Add(100 * time.Millisecond)); r != 200*time.Millisecond {
		t.Errorf("remaining = %v, want 200ms", r)
	}
	if r := h.remaining(t0.Add(time.Second)); r != 0 {
		t.Errorf("remaining after the hold = %v, want 0", r)
	}
}

func TestListLen(t *testing.T) {
	for _, tc := range []struct {
		data any
		want int
	}{
		{nil, -1},
		{"value", -1},
		{&CatalogNode{}, -1},
		{[]*HealthService(nil), 0},
		{[]*HealthService{{}, {}}, 2},
		{[]*CatalogSnippet{{}}, 1},
		{[]*Node{}, 0},
		{[]*KeyPair{{}, {}, {}}, 3},
		{[]string{"a"}, 1},
	} {
		if got := listLen(tc.data); got != tc.want {
			t.Errorf("listLen(%T) = %d, want %d", tc.data, got, tc.want)
		}
	}
}

func TestLeaderKnown(t *testing.T) {
	for _, tc := range []struct {
		meta api.QueryMeta
		want bool
	}{
		{api.QueryMeta{KnownLeader: true}, true},
		{api.QueryMeta{}, false},
		{api.QueryMeta{QueryBackend: api.QueryBackendBlockingQuery}, false},
		{api.QueryMeta{QueryBackend: api.QueryBackendStreaming}, true}, // consul#9776
	} {
		if got := leaderKnown(&tc.meta); got != tc.want {
			t.Errorf("leaderKnown(%+v) = %v, want %v", tc.meta, got, tc.want)
		}
	}
}

const (
	msgHolding  = "answer shrank while consul may be restarting, holding it back"
	msgDropped  = "held answer dropped, a newer answer is not suspect"
	msgReleased = "held answer delivered after the hold"
)

func TestHoldEmptyAfterError(t *testing.T) {
	h := newHarness(t, "", Options{HoldEmpty: 2 * time.Second}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			writeWeb(w, 10, true, 1, 2, 3)
		case 2:
			http.Error(w, "rpc error: no leader", http.StatusInternalServerError)
		case 3:
			writeWeb(w, 11, true) // the restarted agent's empty catalog
		case 4:
			writeWeb(w, 12, true, 1, 2, 4)
		default:
			block(r)
		}
	})
	q := mustWeb(t)
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitPorts(q, "[1 2 4]")
	reqs := h.waitRequests(5)

	logs := h.logLines()
	if got := fmt.Sprint(delivered(logs, q)); got != "[3 3]" {
		t.Errorf("delivered item counts %s, want [3 3]: the empty answer got through", got)
	}
	held := logged(logs, msgHolding)
	if len(held) != 1 {
		t.Fatalf("%d holding warnings, want 1:\n%s", len(held), h.logs)
	}
	l := held[0]
	if l["level"] != "WARN" || l["dependency"] != q.String() || l["items_before"] != 3.0 ||
		l["items_now"] != 0.0 || l["hold"] != float64(2*time.Second) || l["reason"] != suspectEmpty {
		t.Errorf("holding warning %v", l)
	}
	if d := logged(logs, msgDropped); len(d) != 1 || d[0]["level"] != "INFO" {
		t.Errorf("dropped logs %v", d)
	}
	// The query after the held answer blocks on its index, for no longer
	// than the rest of the hold.
	if reqs[3].index != 11 {
		t.Errorf("request 4 index %d, want 11", reqs[3].index)
	}
	wait, err := time.ParseDuration(strings.SplitN(strings.SplitN(reqs[3].query, "wait=", 2)[1], "&", 2)[0])
	if err != nil || wait <= 0 || wait > 2*time.Second {
		t.Errorf("request 4 wait %v (%v), want in (0, 2s]: %s", wait, err, reqs[3].query)
	}
}

func TestHoldEmptyDeliveredAfterHold(t *testing.T) {
	const hold = 300 * time.Millisecond
	var (
		mu      sync.Mutex
		emptyAt time.Time
	)
	h := newHarness(t, "", Options{HoldEmpty: hold}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			writeWeb(w, 10, true, 1, 2, 3)
		case 2:
			mu.Lock()
			emptyAt = time.Now()
			mu.Unlock()
			writeWeb(w, 11, true)
		default: // the service really has no instances left
			if waitWait(r) {
				writeWeb(w, 11, true)
			}
		}
	})
	q := mustWeb(t)
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitPorts(q, "[1 2 3]")
	h.waitRequests(3)
	time.Sleep(hold / 2)
	got, _ := h.w.Snapshot().Get(q)
	mu.Lock()
	early := time.Since(emptyAt) < hold
	mu.Unlock()
	if ports(got) != "[1 2 3]" && early {
		t.Fatalf("half way through the hold the data is %s", ports(got))
	}
	h.waitPorts(q, "[]")
	mu.Lock()
	took := time.Since(emptyAt)
	mu.Unlock()
	if took < hold || took > hold+time.Second {
		t.Errorf("empty answer delivered %v after it came, want about %v", took, hold)
	}
	logs := h.logLines()
	if got := fmt.Sprint(delivered(logs, q)); got != "[3 0]" {
		t.Errorf("delivered item counts %s, want [3 0]", got)
	}
	if r := logged(logs, msgReleased); len(r) != 1 || r[0]["level"] != "INFO" || r[0]["held_for"].(float64) < float64(hold) {
		t.Errorf("released logs %v", r)
	}
}

func TestHoldNormalShrinkDeliveredAtOnce(t *testing.T) {
	var (
		mu       sync.Mutex
		shrunkAt time.Time
	)
	h := newHarness(t, "", Options{}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			writeWeb(w, 10, true, 1, 2, 3)
		case 2:
			mu.Lock()
			shrunkAt = time.Now()
			mu.Unlock()
			writeWeb(w, 11, true, 1, 2)
		default:
			block(r)
		}
	})
	q := mustWeb(t)
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitPorts(q, "[1 2]")
	mu.Lock()
	took := time.Since(shrunkAt)
	mu.Unlock()
	if took > time.Second { // a hold would take the default 5s
		t.Errorf("shrink delivered after %v", took)
	}
	logs := h.logLines()
	if got := fmt.Sprint(delivered(logs, q)); got != "[3 2]" {
		t.Errorf("delivered item counts %s, want [3 2]", got)
	}
	if held := logged(logs, msgHolding); len(held) != 0 {
		t.Errorf("held a normal shrink: %v", held)
	}
}

func TestHoldShrinkWithoutLeader(t *testing.T) {
	h := newHarness(t, "", Options{}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			writeWeb(w, 10, true, 1, 2, 3)
		case 2:
			writeWeb(w, 11, false, 1, 2) // a follower that lost its leader
		case 3:
			writeWeb(w, 12, true, 1, 2, 4)
		default:
			block(r)
		}
	})
	q := mustWeb(t)
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitPorts(q, "[1 2 4]")
	logs := h.logLines()
	if got := fmt.Sprint(delivered(logs, q)); got != "[3 3]" {
		t.Errorf("delivered item counts %s, want [3 3]", got)
	}
	if held := logged(logs, msgHolding); len(held) != 1 || held[0]["reason"] != suspectNoLeader {
		t.Errorf("holding warnings %v", held)
	}
}

func TestHoldIndexReset(t *testing.T) {
	h := newHarness(t, "", Options{}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			writeWeb(w, 10, true, 1, 2, 3)
		case 2, 3:
			writeWeb(w, 1, true, 1) // a new leader with a fresh index
		case 4:
			writeWeb(w, 2, true, 1, 2, 4)
		default:
			block(r)
		}
	})
	q := mustWeb(t)
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitPorts(q, "[1 2 4]")
	reqs := h.waitRequests(5)
	for i, want := range []uint64{0, 10, 0, 1, 2} {
		if reqs[i].index != want {
			t.Errorf("request %d: index %d, want %d", i+1, reqs[i].index, want)
		}
	}
	logs := h.logLines()
	if got := fmt.Sprint(delivered(logs, q)); got != "[3 3]" {
		t.Errorf("delivered item counts %s, want [3 3]: the shrunken answer got through", got)
	}
	if held := logged(logs, msgHolding); len(held) != 1 || held[0]["reason"] != suspectRecovering {
		t.Errorf("holding warnings %v", held)
	}
}

func TestHoldDisabled(t *testing.T) {
	h := newHarness(t, "", Options{HoldEmpty: -1}, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			writeWeb(w, 10, true, 1, 2, 3)
		case 2:
			writeWeb(w, 11, true)
		default:
			block(r)
		}
	})
	q := mustWeb(t)
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitPorts(q, "[]")
}
