package watch

import (
	"strings"

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

type checksTrigger struct {
	prev, next map[string]*api.HealthCheck
}

func (*checksTrigger) endpoint() string { return "health/state" }

func (t *checksTrigger) query(c *api.Client, q *api.QueryOptions) (*api.QueryMeta, error) {
	var list []*api.HealthCheck
	meta, err := c.Raw().Query("/v1/health/state/any", &list, q)
	if err != nil {
		return nil, err
	}
	t.next = make(map[string]*api.HealthCheck, len(list))
	for _, c := range list {
		if c != nil {
			t.next[c.Node+"\x00"+c.CheckID] = c
		}
	}
	return meta, nil
}

func (t *checksTrigger) apply(h *hub, index uint64, baseline bool) {
	var at []uint64
	if !baseline {
		d := diffChecks(t.prev, t.next, index)
		h.refetchFor(d.names, d.nodes)
		h.patchChecks(d.changed)
		at = d.at
	}
	h.checks.record(index, at)
	t.prev, t.next = t.next, nil
}

// checkDiff is what changed between two answers of the checks trigger.
type checkDiff struct {
	names, nodes map[string]bool    // services and nodes to fetch again
	changed      []*api.HealthCheck // checks that only changed: to patch
	at           []uint64           // indexes at which checks changed
}

// diffChecks compares prev and cur; index is cur's (the index of a
// removal).
func diffChecks(prev, cur map[string]*api.HealthCheck, index uint64) checkDiff {
	d := checkDiff{names: map[string]bool{}, nodes: map[string]bool{}}
	name := func(c *api.HealthCheck) {
		if c.ServiceID == "" {
			d.nodes[c.Node] = true
		} else {
			d.names[c.ServiceName] = true
		}
	}
	for k, c := range cur {
		p, ok := prev[k]
		switch {
		case ok && p.ModifyIndex == c.ModifyIndex:
			continue
		case ok && p.ServiceID == c.ServiceID && p.ServiceName == c.ServiceName:
			d.changed = append(d.changed, c)
		default:
			name(c)
			if ok {
				name(p)
			}
		}
		d.at = append(d.at, c.ModifyIndex)
	}
	for k, p := range prev {
		if _, ok := cur[k]; !ok {
			name(p)
			d.at = append(d.at, index)
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
	var entries []*api.ServiceEntry
	matched := false
	for i, e := range s.res.entries {
		if e == nil || e.Node == nil || e.Service == nil || e.Node.Node != c.Node ||
			(c.ServiceID != "" && e.Service.ID != c.ServiceID) {
			continue
		}
		j := -1
		for n, old := range e.Checks {
			if old != nil && old.CheckID == c.CheckID {
				j = n
				break
			}
		}
		if j < 0 {
			return false // the data lacks the check: fetch
		}
		if entries == nil {
			entries = append([]*api.ServiceEntry(nil), s.res.entries...)
		}
		ne := *e
		ne.Checks = append(api.HealthChecks(nil), e.Checks...)
		ne.Checks[j] = c
		entries[i] = &ne
		matched = true
	}
	if !matched {
		// A node check of a node without instances of k is none of its
		// business; so is a service check of an instance k's tag leaves
		// out. Otherwise the data lacks the instance: fetch.
		return c.ServiceID == "" || (k.tag != "" && !hasTagFold(c.ServiceTags, k.tag))
	}
	meta := *s.res.meta
	meta.LastIndex = max(meta.LastIndex, c.ModifyIndex)
	h.publish(s, hubResult{entries: entries, meta: &meta, gen: s.res.gen + 1})
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
