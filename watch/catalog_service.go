package watch

import (
	"context"
	"fmt"

	"github.com/hashicorp/consul/api"
)

// CatalogServiceQuery watches every catalog entry of one service,
// regardless of health: `tag.name@dc~near`. Its data is []*CatalogService
// in Consul's order (nil when empty, as in consul-template).
type CatalogServiceQuery struct {
	scope
	name string
	tag  string
	near string
}

// NewCatalogServiceQuery parses a catalog service query string.
func NewCatalogServiceQuery(s string) (*CatalogServiceQuery, error) {
	re := catalogServiceRe()
	if !re.MatchString(s) {
		return nil, fmt.Errorf("catalog.service: invalid format: %q", s)
	}
	m := match(re, s)
	sc, err := parseScope(m, "catalog.service")
	if err != nil {
		return nil, err
	}
	return &CatalogServiceQuery{
		scope: scope{dc: sc.dc, namespace: sc.namespace, partition: sc.partition},
		name:  m["name"],
		tag:   m["tag"],
		near:  m["near"],
	}, nil
}

// String is the identity: catalog.service(tag.name@dc~near).
func (d *CatalogServiceQuery) String() string {
	name := d.name
	if d.tag != "" {
		name = d.tag + "." + name
	}
	name += d.suffix()
	if d.near != "" {
		name += "~" + d.near
	}
	return "catalog.service(" + name + ")"
}

func (d *CatalogServiceQuery) canonical() string {
	s := d.name
	if d.tag != "" {
		s = d.tag + "." + s
	}
	s += d.canonicalQuery() + d.canonicalDC()
	if d.near != "" {
		s += "~" + d.near
	}
	return s
}

// Fetch implements Dependency.
func (d *CatalogServiceQuery) Fetch(ctx context.Context, c *api.Client, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	entries, meta, err := c.Catalog().Service(d.name, d.tag, d.options(ctx, q, d.near))
	observe(ctx, "catalog/service", err)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d, err)
	}
	return catalogServices(entries), meta, nil
}

// catalogServices converts entries, keeping Consul's order.
func catalogServices(entries []*api.CatalogService) []*CatalogService {
	var list []*CatalogService
	for _, s := range entries {
		if s == nil {
			continue
		}
		list = append(list, &CatalogService{
			ID:              s.ID,
			Node:            s.Node,
			Address:         s.Address,
			Datacenter:      s.Datacenter,
			TaggedAddresses: s.TaggedAddresses,
			NodeMeta:        s.NodeMeta,
			ServiceID:       s.ServiceID,
			ServiceName:     s.ServiceName,
			ServiceAddress:  s.ServiceAddress,
			ServiceTags:     sortedTags(s.ServiceTags),
			ServiceMeta:     s.ServiceMeta,
			ServicePort:     s.ServicePort,
		})
	}
	return list
}
