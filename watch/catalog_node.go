package watch

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/consul/api"
)

// CatalogNodeQuery watches one node and its services: `node "name@dc"`. An
// empty name means the node of the agent harender talks to. Its data is
// *CatalogNode; a node that does not exist gives an empty *CatalogNode, as
// in consul-template.
type CatalogNodeQuery struct {
	scope
	name string
}

// NewCatalogNodeQuery parses a consul-template `node` argument.
func NewCatalogNodeQuery(s string) (*CatalogNodeQuery, error) {
	re := catalogNodeRe()
	if s != "" && !re.MatchString(s) {
		return nil, fmt.Errorf("catalog.node: invalid format: %q", s)
	}
	m := match(re, s)
	sc, err := parseScope(m, "catalog.node")
	if err != nil {
		return nil, err
	}
	return &CatalogNodeQuery{
		scope: scope{dc: sc.dc, namespace: sc.namespace, partition: sc.partition},
		name:  m["name"],
	}, nil
}

// String is the identity: catalog.node or catalog.node(name@dc).
func (d *CatalogNodeQuery) String() string {
	name := d.name + d.suffix()
	if name == "" {
		return "catalog.node"
	}
	return "catalog.node(" + name + ")"
}

func (d *CatalogNodeQuery) canonical() string {
	if d.name == "" {
		return ""
	}
	return d.name + d.canonicalQuery() + d.canonicalDC()
}

// Fetch implements Dependency.
func (d *CatalogNodeQuery) Fetch(ctx context.Context, c *api.Client, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	name := d.name
	if name == "" {
		var err error
		if name, err = agentNodeName(ctx, c); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", d, err)
		}
	}
	node, meta, err := c.Catalog().Node(name, d.options(ctx, q, ""))
	observe(ctx, "catalog/node", err)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d, err)
	}
	return catalogNode(node), meta, nil
}

// agentNodeName asks the local agent for its node name. It does what
// api.Agent.NodeName does, but can be cancelled.
func agentNodeName(ctx context.Context, c *api.Client) (string, error) {
	var self map[string]map[string]any
	_, err := c.Raw().Query("/v1/agent/self", &self, (&api.QueryOptions{}).WithContext(ctx))
	observe(ctx, "agent/self", err)
	if err != nil {
		return "", fmt.Errorf("get local node name: %w", err)
	}
	name, _ := self["Config"]["NodeName"].(string)
	if name == "" {
		return "", errors.New("get local node name: agent/self has no Config.NodeName")
	}
	return name, nil
}

// catalogNode converts Consul's answer; services are ordered by name, then
// ID.
func catalogNode(n *api.CatalogNode) *CatalogNode {
	if n == nil || n.Node == nil {
		return &CatalogNode{}
	}
	services := make([]*CatalogNodeService, 0, len(n.Services))
	for _, s := range n.Services {
		if s == nil {
			continue
		}
		services = append(services, &CatalogNodeService{
			ID:                s.ID,
			Service:           s.Service,
			Tags:              sortedTags(s.Tags),
			Meta:              s.Meta,
			Port:              s.Port,
			Address:           s.Address,
			EnableTagOverride: s.EnableTagOverride,
		})
	}
	sort.Stable(ByService(services))
	return &CatalogNode{Node: convertNode(n.Node), Services: services}
}
