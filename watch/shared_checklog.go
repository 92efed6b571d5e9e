package watch

import (
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// checkLog is what the checks trigger saw (shared_triggers.go): its latest
// index, and what the checks did at each recent index, for the services
// trigger to pin a registration on.
type checkLog struct {
	mu      sync.Mutex
	index   uint64
	changed map[uint64]*checkChange
	order   []uint64      // changed's keys, oldest first
	moved   chan struct{} // closed and replaced when index moves
	cost    time.Duration // the longest plain answer's time, asked and read
	read    time.Duration // recent answers' read time, the longest, decaying
}

// checkChange is what the checks changed at one index did.
type checkChange struct {
	// named: a check was added, removed or moved to another service; the
	// checks trigger fetched the services it names.
	named bool
	// The services and nodes of checks that only changed (status, output):
	// patched into the data, not fetched.
	names, nodes map[string]bool
}

// checkLogSize bounds how many change indexes are remembered.
const checkLogSize = 4096

func (l *checkLog) init() {
	l.changed = map[uint64]*checkChange{}
	l.moved = make(chan struct{})
}

// record notes an answer at index: the checks named at the indexes at,
// the checks patched, and, if removed, checks that left since the
// previous answer. Consul does not give the index of a removal, but the
// answer's index is the checks' latest write: a removal when no check
// changed at it. An earlier removal in the same answer is known at no
// index: a service write there cannot be pinned on it (before, any
// removal explained every service write since the previous answer, and
// hid an instance that moved just before another left).
func (l *checkLog) record(index uint64, at []uint64, patched []*api.HealthCheck, removed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if removed {
		l.change(index).named = true
	}
	for _, i := range at {
		l.change(i).named = true
	}
	for _, c := range patched {
		ch := l.change(c.ModifyIndex)
		if c.ServiceID == "" {
			ch.nodes[c.Node] = true
		} else {
			ch.names[c.ServiceName] = true
		}
	}
	for len(l.order) > checkLogSize {
		delete(l.changed, l.order[0])
		l.order = l.order[1:]
	}
	l.index = index
	close(l.moved)
	l.moved = make(chan struct{})
}

// change returns the record of index i, made if new. l.mu is held.
func (l *checkLog) change(i uint64) *checkChange {
	ch := l.changed[i]
	if ch == nil {
		ch = &checkChange{names: map[string]bool{}, nodes: map[string]bool{}}
		l.changed[i] = ch
		l.order = append(l.order, i)
	}
	return ch
}

// took records how long a plain answer of the checks trigger took.
func (l *checkLog) took(d time.Duration) {
	l.mu.Lock()
	l.cost = max(l.cost, d)
	l.mu.Unlock()
}

// readIn records how long an answer's body took to read and decode. The
// longest recent one is kept: each answer takes an eighth off it first.
func (l *checkLog) readIn(d time.Duration) {
	l.mu.Lock()
	l.read = max(d, l.read-l.read/8)
	l.mu.Unlock()
}

// explains reports whether a check changed at index n, waiting for the
// checks trigger to reach n, with the services and nodes whose checks at n
// were only patched in (they are to be fetched). If the trigger is not
// there after three times its recent read time (see minProbeAfter), one
// plain query asks Consul for the checks' index: below n, no check changed
// at n, and there is nothing to wait for (an instance with no check
// moved); otherwise the trigger is on its way, and is waited for (see
// minExplainWait).
func (l *checkLog) explains(h *hub, n uint64) (ok bool, names, nodes map[string]bool) {
	l.mu.Lock()
	least := minExplainWait
	if h.opts.explainWait > 0 {
		least = h.opts.explainWait
	}
	wait := min(max(4*l.cost, least), max(least, maxExplainWait))
	probe := min(max(3*l.read, minProbeAfter), wait)
	l.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	probeTimer := time.NewTimer(probe)
	defer probeTimer.Stop()
	for {
		l.mu.Lock()
		idx, ch, moved := l.index, l.changed[n], l.moved
		ok = ch != nil
		if ok {
			names, nodes = copySet(ch.names), copySet(ch.nodes)
		}
		l.mu.Unlock()
		if ok || idx >= n {
			return ok, names, nodes
		}
		select {
		case <-moved:
		case <-probeTimer.C:
			if at, err := checksIndex(h); err == nil && at < n {
				return false, nil, nil
			}
		case <-timer.C:
			return false, nil, nil
		case <-h.ctx.Done():
			return false, nil, nil
		}
	}
}

// minProbeAfter is the least time explains waits for the checks trigger
// before it asks Consul. Most registrations carry a check, and the trigger
// brings it within three times its recent read time: at 10,000 checks
// that is hundreds of ms, and asking sooner would cost a request per
// registration. The probe is for the registrations with no check.
const minProbeAfter = 2 * time.Millisecond

// checksIndex is the index of the latest write to Consul's checks, from a
// plain query of health/state/any filtered to return nothing.
func checksIndex(h *hub) (uint64, error) {
	q := (&api.QueryOptions{Filter: `CheckID == "" and Node == ""`}).WithContext(h.ctx)
	_, meta, err := h.client.Health().State(api.HealthAny, q)
	observe(h.ctx, "health/state", err)
	if err != nil {
		return 0, err
	}
	return meta.LastIndex, nil
}

func copySet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
