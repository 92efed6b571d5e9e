package watch

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
)

// The hub's triggers (shared_hub.go). Each is a blocking query on the
// whole catalog; when its index moves, the answer is compared with the
// previous one to find the services that changed:
//
//   - checks (/v1/health/state/any): a check added or removed names its
//     service; a node check names every watched service with an instance
//     on that node. A check that only changed (status, output: its
//     ModifyIndex moved) is patched into the services' data without a
//     fetch (shared_checks.go).
//   - nodes (/v1/catalog/nodes): a node whose ModifyIndex moved (address,
//     meta, tagged addresses) or that left names every watched service with
//     an instance on it.
//   - services (/v1/catalog/services): a service that appeared, left or
//     whose tags changed is named. Its index also moves when an instance
//     registers or leaves, or changes address, port, meta or weights, and
//     none of these shows in its answer. When a check changed at exactly
//     the new index, the registration that moved it was that check's
//     (Consul writes an instance and its checks at one index): the checks
//     trigger fetched its service if the check was added, removed or
//     moved; if the check only changed (an instance re-registered on
//     another port, its check's status with it), the checks trigger
//     patched it into data that lacks the registration, and the services
//     trigger fetches that service. Otherwise the change cannot be pinned
//     on a service, and every watched service is fetched again.
//
// Known limit: two service writes that one wake of the services trigger
// carries, the newer attributable and the older not (an address change
// with no check change), hide the older until its service is fetched
// again for another reason. Consul offers no cheaper way to see it
// (/v1/catalog/services cannot filter on ModifyIndex).
//
// After a trigger fails, its next answer is a new baseline and every
// watched service is fetched again; an index that goes backwards (an
// agent restart, a snapshot restore) does the same.

// How long the services trigger waits for the checks trigger to reach its
// index before calling a change unattributable: four times the longest
// plain (non-blocking) answer of the checks trigger so far, asked and read
// (5 MB at 10,000 checks: seconds on a loaded machine), within these
// bounds. Too short a wait refetches every service for a change the checks
// name; the wait delays only changes no check names.
const (
	minExplainWait = 250 * time.Millisecond
	maxExplainWait = 30 * time.Second
)

// trigger is one of the hub's blocking queries.
type trigger interface {
	endpoint() string
	// query runs one request and keeps its answer.
	query(c *api.Client, q *api.QueryOptions) (*api.QueryMeta, error)
	// apply compares the kept answer, at index, with the previous one and
	// asks the hub to fetch what changed; with baseline it only records it.
	apply(h *hub, index uint64, baseline bool)
}

// runTriggers starts the triggers. h.mu is held.
func (h *hub) runTriggers() {
	triggers := []trigger{&checksTrigger{}, &servicesTrigger{}, &nodesTrigger{}}
	h.baselines = len(triggers)
	for _, t := range triggers {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.runTrigger(t)
		}()
	}
}

// runTrigger is the blocking-query loop of one trigger.
func (h *hub) runTrigger(t trigger) {
	var (
		index    uint64
		attempt  int
		baseline = true // the first answer has nothing to compare with
		again    bool   // fetch every watched service with the next answer
		retry    = backoff{base: h.opts.Backoff, max: h.opts.MaxBackoff}
		log      = h.log.With("trigger", t.endpoint())
		first    = true
	)
	for h.ctx.Err() == nil {
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: h.opts.WaitTime}).WithContext(h.ctx)
		meta, err := t.query(h.client, q)
		observe(h.ctx, t.endpoint(), err)
		if h.ctx.Err() != nil {
			return
		}
		if err == nil && meta == nil {
			err = errors.New("no query metadata in answer")
		}
		if err != nil {
			attempt++
			if attempt == 1 {
				h.fail(fmt.Errorf("%s: %w", t.endpoint(), err))
				if _, ok := t.(*servicesTrigger); ok {
					h.publishCatalog(nil, nil, err)
				}
			}
			index, baseline, again = 0, true, true
			delay := retry.delay(attempt)
			log.Warn("consul query failed, retrying", "attempt", attempt, "backoff", delay, "error", err)
			if !sleep(h.ctx, delay) {
				return
			}
			continue
		}
		attempt = 0
		switch {
		case meta.LastIndex < index:
			log.Debug("index went backwards, resetting", "index", meta.LastIndex, "previous_index", index)
			index, baseline, again = 0, true, true
			continue
		case meta.LastIndex == index && !baseline:
			continue
		}
		index = meta.LastIndex
		t.apply(h, index, baseline)
		if first {
			first = false
			h.baselined()
		}
		if again {
			n := h.refetch(nil)
			log.Debug("trigger recovered, fetching every watched service again", "services", n)
		}
		baseline, again = false, false
	}
}

type servicesTrigger struct {
	prev, next map[string][]string
	meta       *api.QueryMeta
}

func (*servicesTrigger) endpoint() string { return "catalog/services" }

func (t *servicesTrigger) query(c *api.Client, q *api.QueryOptions) (*api.QueryMeta, error) {
	m, meta, err := c.Catalog().Services(q)
	if err != nil {
		return nil, err
	}
	t.next = make(map[string][]string, len(m))
	for name, tags := range m {
		t.next[name] = sortedTags(tags)
	}
	t.meta = meta
	return meta, nil
}

func (t *servicesTrigger) apply(h *hub, index uint64, baseline bool) {
	defer func() { t.prev, t.next = t.next, nil }()
	h.publishCatalog(t.next, t.meta, nil)
	if baseline {
		return
	}
	names := diffServices(t.prev, t.next)
	if len(names) > 0 {
		h.refetchFor(names, nil)
		return
	}
	if ok, names, nodes := h.checks.explains(h, index); ok {
		// A registration with its checks: the checks trigger fetched the
		// services it named; those whose checks it only patched in are
		// fetched here (the patched data lacks the registration).
		h.refetchFor(names, nodes)
		return
	}
	n := h.refetch(nil)
	h.log.Debug("a service change that names no service, fetching every watched service again",
		"index", index, "services", n)
}

// diffServices names the services that appeared, left, or whose tags
// changed between prev and cur.
func diffServices(prev, cur map[string][]string) map[string]bool {
	names := map[string]bool{}
	for name, tags := range cur {
		p, ok := prev[name]
		if !ok || !equalStrings(p, tags) {
			names[name] = true
		}
	}
	for name := range prev {
		if _, ok := cur[name]; !ok {
			names[name] = true
		}
	}
	return names
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// slimNode is what the nodes trigger reads of a node.
type slimNode struct {
	Node        string
	ModifyIndex uint64
}

type nodesTrigger struct {
	prev, next map[string]uint64
}

func (*nodesTrigger) endpoint() string { return "catalog/nodes" }

func (t *nodesTrigger) query(c *api.Client, q *api.QueryOptions) (*api.QueryMeta, error) {
	var list []slimNode
	meta, err := c.Raw().Query("/v1/catalog/nodes", &list, q)
	if err != nil {
		return nil, err
	}
	t.next = make(map[string]uint64, len(list))
	for _, n := range list {
		t.next[n.Node] = n.ModifyIndex
	}
	return meta, nil
}

func (t *nodesTrigger) apply(h *hub, _ uint64, baseline bool) {
	if !baseline {
		nodes := map[string]bool{}
		for n, idx := range t.next {
			if p, ok := t.prev[n]; ok && p != idx {
				nodes[n] = true // a new node has no instance yet
			}
		}
		for n := range t.prev {
			if _, ok := t.next[n]; !ok {
				nodes[n] = true
			}
		}
		h.refetchFor(nil, nodes)
	}
	t.prev, t.next = t.next, nil
}

// refetchFor fetches again the watched services named, and those with an
// instance on one of nodes.
func (h *hub) refetchFor(names, nodes map[string]bool) {
	if len(names) == 0 && len(nodes) == 0 {
		return
	}
	h.refetch(func(k hubKey) bool {
		if names[k.name] {
			return true
		}
		if len(nodes) == 0 {
			return false
		}
		for _, s := range h.services[k].res.list { // h.mu is held by refetch
			if nodes[s.Node] {
				return true
			}
		}
		return false
	})
}
