package watch

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/consul/api"
)

// Health states a `service` query may filter on.
const (
	HealthAny      = "any"
	HealthPassing  = "passing"
	HealthWarning  = "warning"
	HealthCritical = "critical"
	HealthMaint    = "maintenance"
)

// HealthServiceQuery watches the healthy (or filtered) instances of one
// service: `service "tag.name@dc~near|passing,warning"`. Its data is
// []*HealthService.
type HealthServiceQuery struct {
	scope
	name    string
	tag     string
	near    string
	filters []string
	// explicitFilter records a "|..." that named no state, so that the
	// canonical form round-trips; it does not change the identity.
	explicitFilter bool
	connect        bool
}

// NewHealthServiceQuery parses a consul-template `service` argument.
func NewHealthServiceQuery(s string) (*HealthServiceQuery, error) {
	return newHealthQuery(s, false)
}

// NewHealthConnectQuery parses a consul-template `connect` argument: the
// same grammar, answered by the Connect-capable instances.
func NewHealthConnectQuery(s string) (*HealthServiceQuery, error) {
	return newHealthQuery(s, true)
}

func newHealthQuery(s string, connect bool) (*HealthServiceQuery, error) {
	re := healthServiceRe()
	if !re.MatchString(s) {
		return nil, fmt.Errorf("health.service: invalid format: %q", s)
	}
	m := match(re, s)

	var filters []string
	if f := m["filter"]; f != "" {
		for _, part := range strings.Split(f, ",") {
			part = strings.TrimSpace(part)
			switch part {
			case HealthAny, HealthPassing, HealthWarning, HealthCritical, HealthMaint:
				filters = append(filters, part)
			case "":
			default:
				return nil, fmt.Errorf("health.service: invalid filter: %q in %q", part, s)
			}
		}
		sort.Strings(filters)
	} else {
		filters = []string{HealthPassing}
	}

	sc, err := parseScope(m, "health.service")
	if err != nil {
		return nil, err
	}
	if sc.samenessGroup != "" && sc.peer != "" {
		return nil, fmt.Errorf("health.service: cannot specify both %s and %s", queryPeer, querySamenessGroup)
	}

	return &HealthServiceQuery{
		scope:          sc,
		name:           m["name"],
		tag:            m["tag"],
		near:           m["near"],
		filters:        filters,
		explicitFilter: m["filter"] != "" && len(filters) == 0,
		connect:        connect,
	}, nil
}

// String is the identity, as consul-template writes it:
// health.service(tag.name@dc@partition=p@ns=n@peer=x~near|passing).
func (d *HealthServiceQuery) String() string {
	name := d.name
	if d.tag != "" {
		name = d.tag + "." + name
	}
	name += d.suffix()
	if d.near != "" {
		name += "~" + d.near
	}
	if len(d.filters) > 0 {
		name += "|" + strings.Join(d.filters, ",")
	}
	if d.connect {
		return "health.connect(" + name + ")"
	}
	return "health.service(" + name + ")"
}

// canonical is a query string that parses back to d.
func (d *HealthServiceQuery) canonical() string {
	s := d.name
	if d.tag != "" {
		s = d.tag + "." + s
	}
	s += d.canonicalQuery() + d.canonicalDC()
	if d.near != "" {
		s += "~" + d.near
	}
	switch {
	case len(d.filters) > 0:
		s += "|" + strings.Join(d.filters, ",")
	case d.explicitFilter:
		s += "|,"
	}
	return s
}

// passingOnly reports whether Consul can do the filtering (?passing).
func (d *HealthServiceQuery) passingOnly() bool {
	return len(d.filters) == 1 && d.filters[0] == HealthPassing
}

// Fetch implements Dependency.
func (d *HealthServiceQuery) Fetch(ctx context.Context, c *api.Client, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	query, endpoint := c.Health().Service, "health/service"
	if d.connect {
		query, endpoint = c.Health().Connect, "health/connect"
	}
	entries, meta, err := query(d.name, d.tag, d.passingOnly(), d.options(ctx, q, d.near))
	observe(ctx, endpoint, err)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d, err)
	}
	return healthServices(internerFrom(ctx), entries, d.filters, d.near != ""), meta, nil
}

// healthServices converts Consul's answer to consul-template's shape: the
// status is aggregated from the checks (maintenance first, then critical,
// warning, passing), entries whose status the filters do not accept are
// dropped, the service address falls back to the node's, tags are sorted,
// and the list is ordered by node then ID unless near was asked for.
// Node data repeated across entries is shared through in (nil: not).
func healthServices(in *interner, entries []*api.ServiceEntry, filters []string, near bool) []*HealthService {
	list := make([]*HealthService, 0, len(entries))
	for _, e := range entries {
		if e == nil || e.Node == nil || e.Service == nil {
			continue
		}
		in.entry(e)
		status := e.Checks.AggregatedStatus()
		if !acceptStatus(filters, status) {
			continue
		}
		address := e.Service.Address
		if address == "" {
			address = e.Node.Address
		}
		list = append(list, &HealthService{
			Node:                   e.Node.Node,
			NodeID:                 e.Node.ID,
			NodeAddress:            e.Node.Address,
			NodeTaggedAddresses:    e.Node.TaggedAddresses,
			NodeMeta:               e.Node.Meta,
			ServiceMeta:            e.Service.Meta,
			Address:                address,
			ServiceTaggedAddresses: e.Service.TaggedAddresses,
			ID:                     e.Service.ID,
			Name:                   e.Service.Service,
			Tags:                   in.sortedTags(e.Service.Tags),
			Checks:                 e.Checks,
			Status:                 status,
			Port:                   e.Service.Port,
			Weights:                e.Service.Weights,
		})
	}
	if !near {
		sort.Stable(ByNodeThenID(list))
	}
	return list
}

// acceptStatus reports whether status passes the filters; "any" accepts
// everything, an empty filter list accepts nothing.
func acceptStatus(filters []string, status string) bool {
	return slices.ContainsFunc(filters, func(f string) bool {
		return f == status || f == HealthAny
	})
}
