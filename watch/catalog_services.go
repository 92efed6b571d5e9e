package watch

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/consul/api"
)

// CatalogServicesQuery watches the names and tags of every service in a
// datacenter: `services "@dc"`. Its data is []*CatalogSnippet (nil when
// there is no service, as in consul-template).
type CatalogServicesQuery struct {
	scope
}

// NewCatalogServicesQuery parses a consul-template `services` argument.
func NewCatalogServicesQuery(s string) (*CatalogServicesQuery, error) {
	re := catalogServicesRe()
	if !re.MatchString(s) {
		return nil, fmt.Errorf("catalog.services: invalid format: %q", s)
	}
	m := match(re, s)
	sc, err := parseScope(m, "catalog.services")
	if err != nil {
		return nil, err
	}
	return &CatalogServicesQuery{scope: scope{dc: sc.dc, namespace: sc.namespace, partition: sc.partition}}, nil
}

// String is the identity: catalog.services or catalog.services(@dc).
func (d *CatalogServicesQuery) String() string {
	if s := d.suffix(); s != "" {
		return "catalog.services(" + s + ")"
	}
	return "catalog.services"
}

func (d *CatalogServicesQuery) canonical() string {
	return d.canonicalQuery() + d.canonicalDC()
}

// Fetch implements Dependency.
func (d *CatalogServicesQuery) Fetch(ctx context.Context, c *api.Client, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	entries, meta, err := c.Catalog().Services(d.options(ctx, q, ""))
	observe(ctx, "catalog/services", err)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d, err)
	}
	return catalogSnippets(entries), meta, nil
}

// catalogSnippets converts the name → tags map to a list ordered by name.
func catalogSnippets(entries map[string][]string) []*CatalogSnippet {
	var list []*CatalogSnippet
	for name, tags := range entries {
		list = append(list, &CatalogSnippet{Name: name, Tags: sortedTags(tags)})
	}
	sort.Stable(ByName(list))
	return list
}
