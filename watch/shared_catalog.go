package watch

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
)

// The `services` dependency of the default datacenter is what the hub's
// services trigger (shared_triggers.go) already asks: /v1/catalog/services
// with a blocking index. So the hub answers it from that trigger's latest
// answer instead of a query and a connection of its own.

// catalogState is the latest answer of the services trigger.
type catalogState struct {
	names   map[string][]string
	meta    *api.QueryMeta
	err     error
	gen     uint64
	changed chan struct{} // closed and replaced when the answer changes
}

// sharedCatalog reports whether the hub answers d: `services` with no
// datacenter, namespace or partition.
func sharedCatalog(d Dependency) bool {
	q, ok := d.(*CatalogServicesQuery)
	return ok && q.scope == scope{}
}

// publishCatalog records an answer (or an error) of the services trigger.
func (h *hub) publishCatalog(names map[string][]string, meta *api.QueryMeta, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := &h.catalog
	if err != nil && c.gen == 0 {
		return // no poller holds an index yet
	}
	c.names, c.meta, c.err = names, meta, err
	c.gen++
	close(c.changed)
	c.changed = make(chan struct{})
}

// fetchCatalog answers a `services` query as a blocking query would, from
// the services trigger: with WaitIndex 0 its latest answer (the first one
// once it comes), otherwise as soon as its index is another than
// WaitIndex (at once if it already is), or the trigger fails, or the same
// answer after WaitTime.
func (h *hub) fetchCatalog(ctx context.Context, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	h.start()
	h.mu.Lock()
	start := h.catalog.gen
	h.mu.Unlock()
	wait := q.WaitTime
	if wait <= 0 {
		wait = defaultQueryTime
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	first := q.WaitIndex == 0 || start == 0
	for {
		h.mu.Lock()
		c := h.catalog
		h.mu.Unlock()
		switch {
		case c.gen > 0 && first && (c.err == nil || c.gen > start),
			c.gen > start && c.err != nil,
			c.gen > 0 && c.err == nil && c.meta.LastIndex != q.WaitIndex:
			if c.err != nil {
				return nil, nil, fmt.Errorf("catalog.services: %w", c.err)
			}
			return catalogSnippets(c.names), c.meta, nil
		}
		select {
		case <-c.changed:
		case <-timer.C:
			if first || c.err != nil {
				continue
			}
			return catalogSnippets(c.names), c.meta, nil
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-h.ctx.Done():
			return nil, nil, h.ctx.Err()
		}
	}
}
