package watch

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/consul/api"
)

// datacentersPollInterval is how often the datacenter list is re-read;
// Consul has no blocking query for it. Same as consul-template.
const datacentersPollInterval = 15 * time.Second

// CatalogDatacentersQuery watches the list of known datacenters:
// `datacenters` or `datacenters true`. Its data is a sorted []string.
// The endpoint does not block, so after the first answer it is polled.
type CatalogDatacentersQuery struct {
	ignoreFailing bool
	poll          time.Duration
}

// NewCatalogDatacentersQuery makes the query; with ignoreFailing, the
// datacenters that do not answer a consistent catalog read are left out.
func NewCatalogDatacentersQuery(ignoreFailing bool) (*CatalogDatacentersQuery, error) {
	return &CatalogDatacentersQuery{ignoreFailing: ignoreFailing, poll: datacentersPollInterval}, nil
}

// String is the identity. consul-template gives both forms the same
// identity, which lets one shadow the other; here they differ.
func (d *CatalogDatacentersQuery) String() string {
	if d.ignoreFailing {
		return "catalog.datacenters(ignore_failing)"
	}
	return "catalog.datacenters"
}

// Fetch implements Dependency. q.WaitIndex other than 0 means "not the
// first time": wait for the poll interval first.
func (d *CatalogDatacentersQuery) Fetch(ctx context.Context, c *api.Client, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	if q != nil && q.WaitIndex != 0 {
		t := time.NewTimer(d.poll)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%s: %w", d, ctx.Err())
		case <-t.C:
		}
	}

	var dcs []string
	_, err := c.Raw().Query("/v1/catalog/datacenters", &dcs, (&api.QueryOptions{}).WithContext(ctx))
	observe(ctx, "catalog/datacenters", err)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d, err)
	}

	if d.ignoreFailing {
		healthy := make([]string, 0, len(dcs))
		for _, dc := range dcs {
			o := &api.QueryOptions{Datacenter: dc, RequireConsistent: true}
			_, _, err := c.Catalog().Services(o.WithContext(ctx))
			observe(ctx, "catalog/services", err)
			if err == nil {
				healthy = append(healthy, dc)
			}
		}
		dcs = healthy
	}
	slices.Sort(dcs)

	// There is no index: make one up that grows with time, as
	// consul-template does, and let the content comparison drop repeats.
	// The endpoint says nothing of the leader; claim one, so that the hold
	// rule (hold.go) does not take every shrink for an election.
	return dcs, &api.QueryMeta{LastIndex: uint64(time.Now().UnixNano()), KnownLeader: true}, nil
}
