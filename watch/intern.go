package watch

import (
	"context"
	"maps"
	"reflect"
	"sync"

	"github.com/hashicorp/consul/api"
)

// interner shares what every instance on one node repeats: the node's
// tagged addresses and meta, and its node checks (serfHealth); and what
// many instances repeat whatever their node (intern_values.go). Each
// answer from Consul carries its own copies; at 10,000 instances on a few
// nodes they were half of the watcher's heap (29 MiB before). Values
// handed out are read-only, as all watcher data is, so sharing them is
// safe.
type interner struct {
	mu    sync.Mutex
	nodes map[string]*internedNode
	vals  values // intern_values.go
}

type internedNode struct {
	tagged, meta map[string]string
	checks       map[string]*api.HealthCheck // node checks, by CheckID
}

// maxInternedNodes bounds the table; past it, it starts again empty.
const maxInternedNodes = 1 << 16

func newInterner() *interner { return &interner{nodes: map[string]*internedNode{}} }

type internKey struct{}

func withInterner(ctx context.Context, in *interner) context.Context {
	return context.WithValue(ctx, internKey{}, in)
}

// internerFrom returns ctx's interner, or nil: nil interns nothing.
func internerFrom(ctx context.Context) *interner {
	in, _ := ctx.Value(internKey{}).(*interner)
	return in
}

// entry replaces e's node maps and node checks with equal ones seen
// before, and records them for the next answers.
func (in *interner) entry(e *api.ServiceEntry) {
	if in == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	n := in.nodes[e.Node.Node]
	if n == nil {
		if len(in.nodes) >= maxInternedNodes {
			clear(in.nodes)
		}
		n = &internedNode{checks: map[string]*api.HealthCheck{}}
		in.nodes[e.Node.Node] = n
	}
	e.Node.TaggedAddresses = internMap(&n.tagged, e.Node.TaggedAddresses)
	e.Node.Meta = internMap(&n.meta, e.Node.Meta)
	for i, c := range e.Checks {
		if c == nil || c.ServiceID != "" {
			continue
		}
		if old := n.checks[c.CheckID]; old != nil && sameCheck(old, c) {
			e.Checks[i] = old
		} else {
			n.checks[c.CheckID] = c
		}
	}
	in.vals.instance(e)
}

// sortedTags is sortedTags(tags), shared with an equal list seen before.
func (in *interner) sortedTags(tags []string) ServiceTags {
	sorted := sortedTags(tags)
	if in == nil {
		return sorted
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.vals.list(sorted)
}

// internMap returns *kept if it equals m, else keeps m and returns it.
func internMap(kept *map[string]string, m map[string]string) map[string]string {
	if *kept != nil && maps.Equal(*kept, m) {
		return *kept
	}
	*kept = m
	return m
}

// sameCheck reports whether two node checks are equal in every field;
// the ModifyIndex, which Consul moves on any change, is compared first.
func sameCheck(a, b *api.HealthCheck) bool {
	return a.ModifyIndex == b.ModifyIndex && reflect.DeepEqual(a, b)
}
