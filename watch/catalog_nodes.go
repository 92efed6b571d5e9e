package watch

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/consul/api"
)

// CatalogNodesQuery watches every node of a datacenter: `nodes "@dc~near"`.
// Its data is []*Node, ordered by name then address unless near was asked
// for.
type CatalogNodesQuery struct {
	scope
	near string
}

// NewCatalogNodesQuery parses a consul-template `nodes` argument.
func NewCatalogNodesQuery(s string) (*CatalogNodesQuery, error) {
	re := catalogNodesRe()
	if !re.MatchString(s) {
		return nil, fmt.Errorf("catalog.nodes: invalid format: %q", s)
	}
	m := match(re, s)
	sc, err := parseScope(m, "catalog.nodes")
	if err != nil {
		return nil, err
	}
	return &CatalogNodesQuery{
		scope: scope{dc: sc.dc, namespace: sc.namespace, partition: sc.partition},
		near:  m["near"],
	}, nil
}

// String is the identity: catalog.nodes or catalog.nodes(@dc~near).
func (d *CatalogNodesQuery) String() string {
	name := d.suffix()
	if d.near != "" {
		name += "~" + d.near
	}
	if name == "" {
		return "catalog.nodes"
	}
	return "catalog.nodes(" + name + ")"
}

func (d *CatalogNodesQuery) canonical() string {
	s := d.canonicalQuery() + d.canonicalDC()
	if d.near != "" {
		s += "~" + d.near
	}
	return s
}

// Fetch implements Dependency.
func (d *CatalogNodesQuery) Fetch(ctx context.Context, c *api.Client, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	entries, meta, err := c.Catalog().Nodes(d.options(ctx, q, d.near))
	observe(ctx, "catalog/nodes", err)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d, err)
	}
	return catalogNodes(entries, d.near != ""), meta, nil
}

func catalogNodes(entries []*api.Node, near bool) []*Node {
	nodes := make([]*Node, 0, len(entries))
	for _, n := range entries {
		if n == nil {
			continue
		}
		nodes = append(nodes, convertNode(n))
	}
	if !near {
		sort.Stable(ByNode(nodes))
	}
	return nodes
}

func convertNode(n *api.Node) *Node {
	return &Node{
		ID:              n.ID,
		Node:            n.Node,
		Address:         n.Address,
		Datacenter:      n.Datacenter,
		TaggedAddresses: n.TaggedAddresses,
		Meta:            n.Meta,
	}
}
