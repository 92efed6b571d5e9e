package watch

import (
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// The checks trigger (see shared_triggers.go). A check whose status or
// output changed is the most common change of all; the answer of
// /v1/health/state/any holds the check as health/service would return it
// (both read the same record), so the hub writes it into the data it holds
// for the service and moves that data's index to the check's
// ModifyIndex, as Consul moves the service's: the same data and index a
// fetch would give, without the fetch. Anything else (a check added,
// removed, or moved to another service; a service the hub is fetching or
// holds no data for; a check the data does not have) is fetched.

// checkKey names a check: its node and CheckID.
type checkKey struct{ node, checkID string }

// slimCheck is what the checks trigger keeps of a check between answers.
type slimCheck struct {
	checkKey
	serviceID, serviceName string
	modifyIndex            uint64
}

// slim is c as the trigger keeps it. A check that the previous answer
// holds unchanged is that answer's own copy, so a wake keeps no second
// copy of its strings; node and service names are shared between checks.
func (t *checksTrigger) slim(c *api.HealthCheck) slimCheck {
	k := checkKey{c.Node, c.CheckID}
	if p, ok := t.prev[k]; ok && p.modifyIndex == c.ModifyIndex && p.serviceID == c.ServiceID && p.serviceName == c.ServiceName {
		return p
	}
	k.node = t.vals.str(k.node)
	return slimCheck{k, c.ServiceID, t.vals.str(c.ServiceName), c.ModifyIndex}
}

type checksTrigger struct {
	prev map[checkKey]slimCheck
	// next is the latest answer, slim; full holds, whole, only its checks
	// that are new or changed since prev: the answer is read one check at
	// a time (body_sink.go), and at 10,000 checks holding it whole cost
	// 20 MB or more at every wake.
	next map[checkKey]slimCheck
	full map[checkKey]*api.HealthCheck
	vals values        // node and service names (intern_values.go)
	took time.Duration // of the last plain answer, 0 once recorded
	read time.Duration // the last answer's body, read and decoded; 0 once recorded
}

func (*checksTrigger) endpoint() string { return "health/state" }

func (t *checksTrigger) query(c *api.Client, q *api.QueryOptions) (*api.QueryMeta, error) {
	// Made when the answer comes, not before: a blocking query waits for
	// minutes, and a map sized for 10,000 checks is about 2 MB.
	var next map[checkKey]slimCheck
	full := map[checkKey]*api.HealthCheck{}
	each := func(c *api.HealthCheck) {
		if next == nil {
			next = make(map[checkKey]slimCheck, len(t.prev))
		}
		sc := t.slim(c)
		next[sc.checkKey] = sc
		if p, ok := t.prev[sc.checkKey]; t.prev != nil && (!ok || p.modifyIndex != c.ModifyIndex) {
			full[sc.checkKey] = c
		}
	}
	var empty []*api.HealthCheck // what api decodes: the sink took the body
	start := time.Now()
	sink := checkSink(each)
	meta, err := c.Raw().Query("/v1/health/state/any", &empty, q.WithContext(withBodySink(q.Context(), sink)))
	sink.fn = nil
	if err != nil {
		return nil, err
	}
	if !sink.began.IsZero() {
		t.read = time.Since(sink.began)
	}
	if q.WaitIndex == 0 {
		t.took = time.Since(start)
	}
	if next == nil {
		next = map[checkKey]slimCheck{} // an empty answer
	}
	t.next, t.full = next, full
	return meta, nil
}

func (t *checksTrigger) apply(h *hub, index uint64, baseline bool) {
	if t.took > 0 {
		h.checks.took(t.took)
		t.took = 0
	}
	if t.read > 0 {
		h.checks.readIn(t.read)
		t.read = 0
	}
	var d checkDiff
	if !baseline {
		d = diffChecks(t.prev, t.next, t.full, index)
		h.refetchFor(d.names, d.nodes)
		h.patchChecks(d.changed)
	}
	h.checks.record(index, d.at, d.changed, d.removed)
	t.prev, t.next, t.full = t.next, nil, nil
}

// checkDiff is what changed between two answers of the checks trigger.
type checkDiff struct {
	names, nodes map[string]bool    // services and nodes to fetch again
	changed      []*api.HealthCheck // checks that only changed: to patch
	at           []uint64           // indexes of the changes named (fetched)
	removed      bool               // a check left, at an index since the previous answer
}

// diffChecks compares prev and cur; full holds cur's checks that are not
// in prev at the same ModifyIndex; index is cur's (the index of a
// removal).
func diffChecks(prev, cur map[checkKey]slimCheck, full map[checkKey]*api.HealthCheck, index uint64) checkDiff {
	d := checkDiff{names: map[string]bool{}, nodes: map[string]bool{}}
	name := func(c slimCheck) {
		if c.serviceID == "" {
			d.nodes[c.node] = true
		} else {
			d.names[c.serviceName] = true
		}
	}
	for k, c := range cur {
		p, ok := prev[k]
		whole := full[k]
		switch {
		case ok && p.modifyIndex == c.modifyIndex:
			continue
		case ok && whole != nil && p.serviceID == c.serviceID && p.serviceName == c.serviceName:
			d.changed = append(d.changed, whole)
		default:
			name(c)
			if ok {
				name(p)
			}
			d.at = append(d.at, c.modifyIndex)
		}
	}
	for k, p := range prev {
		if _, ok := cur[k]; !ok {
			name(p)
			d.removed = true
		}
	}
	return d
}

// patchChecks writes each changed check into the data of the watched
// services it belongs to, or asks a fetch where it cannot.
func (h *hub) patchChecks(checks []*api.HealthCheck) {
	if len(checks) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range checks {
		for k := range h.watched {
			if c.ServiceID != "" && k.name != c.ServiceName {
				continue
			}
			s := h.services[k]
			if s == nil {
				continue // its first fetch is still to come
			}
			if !h.patch(s, k, c) {
				h.request(k, s)
			}
		}
	}
}

// patch writes c into s's data, and reports false when a fetch is needed
// instead. h.mu is held.
func (h *hub) patch(s *hubService, k hubKey, c *api.HealthCheck) bool {
	if s.running || s.queued || s.res.gen == 0 || s.res.err != nil || s.res.meta == nil {
		return false // a fetch under way or owed will carry the change
	}
	var list []*HealthService
	matched := false
	for i, old := range s.res.list {
		if old.Node != c.Node || (c.ServiceID != "" && old.ID != c.ServiceID) {
			continue
		}
		j := -1
		for n, oc := range old.Checks {
			if oc != nil && oc.CheckID == c.CheckID {
				j = n
				break
			}
		}
		if j < 0 {
			return false // the data lacks the check: fetch
		}
		if list == nil {
			list = append([]*HealthService(nil), s.res.list...)
		}
		ns := *old
		ns.Checks = append(api.HealthChecks(nil), old.Checks...)
		ns.Checks[j] = c
		ns.Status = ns.Checks.AggregatedStatus() // as healthServices sets it
		list[i] = &ns
		matched = true
	}
	if !matched {
		// A node check of a node without instances of k is none of its
		// business; so is a service check of an instance k's tag leaves
		// out. Otherwise the data lacks the instance: fetch.
		return c.ServiceID == "" || (k.tag != "" && !hasTagFold(c.ServiceTags, k.tag))
	}
	meta := *s.res.meta
	meta.LastIndex = s.patchedIndex(c.ModifyIndex)
	h.publish(s, hubResult{list: list, meta: &meta, gen: s.res.gen + 1})
	return true
}

// hasTagFold reports whether tags holds tag, in any case, as Consul's
// ?tag= filter matches.
func hasTagFold(tags []string, tag string) bool {
	for _, t := range tags {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
}
