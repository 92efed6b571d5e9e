package watch

import (
	"reflect"

	"github.com/hashicorp/consul/api"
)

// The index the hub hands out for a service (shared_hub.go). A poller
// takes an answer at the index it already holds as "no change"
// (watcher.go), as with Consul's own blocking queries. But the hub's data
// is not always one answer of Consul's: a check patched into the data
// (shared_checks.go) moves its index to the check's ModifyIndex, and the
// data may miss a service write at or below that index that no trigger
// had pinned yet (an instance re-registered on another port, then its
// check's output changed: the patch lands on the old address). The fetch
// that the write causes then comes back at the very index of the patch,
// and was dropped: the move was never seen. So the index the hub hands
// out moves whenever its data changes, even when Consul's does not.

// shownIndex returns the meta to hand out for a fetch of s that answered
// list at meta, and records it. h.mu is held.
func (s *hubService) shownIndex(list []*HealthService, meta *api.QueryMeta) *api.QueryMeta {
	idx := meta.LastIndex
	switch {
	case idx < s.fetched:
		// Consul's index went backwards (an agent restart, a snapshot
		// restore): hand it out as it is, pollers start again from it.
	case idx > s.shown:
	case s.res.err == nil && reflect.DeepEqual(list, s.res.list):
		idx = s.shown // the same data: not a move, nor backwards
	default:
		idx = s.shown + 1 // other data at an index already handed out
	}
	s.fetched, s.shown = meta.LastIndex, idx
	if idx == meta.LastIndex {
		return meta
	}
	m := *meta
	m.LastIndex = idx
	return &m
}

// patchedIndex returns the index to hand out for s's data patched with a
// check changed at modify, and records it. h.mu is held.
func (s *hubService) patchedIndex(modify uint64) uint64 {
	s.shown = max(modify, s.shown+1)
	return s.shown
}
