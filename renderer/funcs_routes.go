package renderer

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/harender/harender/watch"
)

// RouteTable is the routing of the built-in routes template, built from
// Fabio-style tags of passing service instances (see parseRouteTag). It
// is a plain value: the same instances give the same table.
type RouteTable struct {
	// Routes are the entries of HAProxy's route map, longest key first:
	// map_beg returns the first entry that matches, so the first is the
	// longest prefix.
	Routes []Route
	// Backends are the services that have at least one route, by name,
	// whether or not they win their routes: a conflict that comes or goes
	// changes the map, not the config.
	Backends  []RouteBackend
	Conflicts []RouteConflict
	Ignored   []IgnoredRouteTag
}

// Route sends requests whose host and path begin with Key to Backend.
type Route struct {
	Key     string // host (lower case, or "" for any) and path
	Host    string
	Path    string
	Service string
	Backend string
	Strip   string // the prefix strip= removes, or ""
	// Value is the map value: "BACKEND|DEPTH|STRIP", DEPTH the number of
	// path segments to remove (0: none), STRIP the prefix they must
	// spell ("/" when none).
	Value string
}

// RouteBackend is one service's backend.
type RouteBackend struct {
	Name    string // safe for HAProxy: the service name itself
	Service string
	Servers []RouteServer
	// Skipped says, one line each, which instances were left out.
	Skipped []string
}

// RouteServer is one instance, as a server line.
type RouteServer struct {
	Name    string
	Address string // an IP address
	Port    int
}

// RouteConflict is a key that several services claim. The service whose
// name sorts first wins, so every harender picks the same one.
type RouteConflict struct {
	Key      string
	Winner   string
	Services []string // all claimants, sorted; Winner is the first
}

func (c RouteConflict) String() string {
	return fmt.Sprintf("route %q is claimed by services %s; %q wins (the name that sorts first)", c.Key, quoteAll(c.Services), c.Winner)
}

// IgnoredRouteTag is a route tag, or a service with route tags, that
// harender does not serve, and why.
type IgnoredRouteTag struct {
	Service, Tag, Reason string
}

func (i IgnoredRouteTag) String() string {
	if i.Service == "" {
		return i.Reason
	}
	if i.Tag == "" {
		return fmt.Sprintf("service %q: %s", truncate(i.Service, 80), i.Reason)
	}
	return fmt.Sprintf("service %q, tag %q: %s", truncate(i.Service, 80), truncate(i.Tag, 120), i.Reason)
}

// maxIgnored bounds the ignored tags a table names: anyone who can
// register a service chooses how many bad tags it has.
const maxIgnored = 100

// routeService is a service name that the service function can query as
// it is (consul-template's grammar: a '.' would start a tag, '@' a
// datacenter), and that HAProxy takes as a backend name.
var routeService = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// fnURLPrefixServices lists the services in catalog (the services
// function's answer) that carry a tag beginning with prefix and whose
// names can be queried: those the routes template asks service for.
func fnURLPrefixServices(prefix string, catalog []*watch.CatalogSnippet) []string {
	var names []string
	for _, s := range catalog {
		if s != nil && routeService.MatchString(s.Name) && hasRouteTag(s.Tags, prefix) {
			names = append(names, s.Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func hasRouteTag(tags []string, prefix string) bool {
	return prefix != "" && slices.ContainsFunc(tags, func(t string) bool {
		return strings.HasPrefix(strings.TrimSpace(t), prefix)
	})
}

// fnURLPrefixRoutes builds the route table from the passing instances of
// services: instances is a list of what service returned, one list per
// service (or one such list). catalog is the services function's answer,
// used only to report services with route tags whose names cannot be
// queried.
func fnURLPrefixRoutes(prefix string, catalog []*watch.CatalogSnippet, instances any) (*RouteTable, error) {
	lists, err := instanceLists(instances)
	if err != nil {
		return nil, fmt.Errorf("urlprefixRoutes: %w", err)
	}
	t := &RouteTable{}
	for _, s := range catalog {
		if s != nil && !routeService.MatchString(s.Name) && hasRouteTag(s.Tags, prefix) {
			t.Ignored = append(t.Ignored, IgnoredRouteTag{Service: s.Name,
				Reason: "the service name is not one harender routes to (letters, digits, '-' and '_', at most 100)"})
		}
	}
	byService := map[string][]*watch.HealthService{}
	for _, l := range lists {
		for _, in := range l {
			if in != nil {
				byService[in.Name] = append(byService[in.Name], in)
			}
		}
	}
	claims := map[string]map[string]tagRoute{} // key -> service -> route
	for _, svc := range sortedKeys(byService) {
		if !routeService.MatchString(svc) {
			t.Ignored = append(t.Ignored, IgnoredRouteTag{Service: svc, Reason: "the service name is not one harender routes to"})
			continue
		}
		routes := t.serviceRoutes(svc, byService[svc], prefix)
		if len(routes) == 0 {
			continue
		}
		for _, r := range routes {
			if claims[r.key()] == nil {
				claims[r.key()] = map[string]tagRoute{}
			}
			claims[r.key()][svc] = r
		}
		t.Backends = append(t.Backends, newRouteBackend(svc, byService[svc]))
	}
	for _, key := range sortedKeys(claims) {
		svcs := sortedKeys(claims[key])
		r := claims[key][svcs[0]]
		if len(svcs) > 1 {
			t.Conflicts = append(t.Conflicts, RouteConflict{Key: key, Winner: svcs[0], Services: svcs})
		}
		strip := cmp.Or(r.Strip, "/")
		t.Routes = append(t.Routes, Route{Key: key, Host: r.Host, Path: r.Path, Service: svcs[0], Backend: svcs[0], Strip: r.Strip,
			Value: svcs[0] + "|" + strconv.Itoa(r.Depth) + "|" + strip})
	}
	slices.SortStableFunc(t.Routes, func(a, b Route) int { return cmp.Compare(len(b.Key), len(a.Key)) })
	if n := len(t.Ignored); n > maxIgnored {
		t.Ignored = append(t.Ignored[:maxIgnored], IgnoredRouteTag{Reason: fmt.Sprintf("and %d more tags or services ignored", n-maxIgnored)})
	}
	return t, nil
}

// serviceRoutes are the routes the tags of a service's instances ask for,
// one per key. Two tags that route the same key differently (another
// strip=) are a mistake in one service: the tag that sorts first is kept,
// the other reported.
func (t *RouteTable) serviceRoutes(svc string, instances []*watch.HealthService, prefix string) []tagRoute {
	var tags []string
	for _, in := range instances {
		tags = append(tags, in.Tags...)
	}
	slices.Sort(tags)
	tags = slices.Compact(tags)
	byKey := map[string]string{} // key -> tag that set it
	var routes []tagRoute
	for _, tag := range tags {
		r, err := parseRouteTag(tag, prefix)
		switch {
		case errors.Is(err, errNotRoute):
			continue
		case err != nil:
			t.Ignored = append(t.Ignored, IgnoredRouteTag{Service: svc, Tag: tag, Reason: err.Error()})
			continue
		}
		if first, ok := byKey[r.key()]; ok {
			if prev := slices.IndexFunc(routes, func(p tagRoute) bool { return p.key() == r.key() }); routes[prev] != r {
				t.Ignored = append(t.Ignored, IgnoredRouteTag{Service: svc, Tag: tag,
					Reason: fmt.Sprintf("route %q is already set, with other options, by tag %q", r.key(), truncate(first, 120))})
			}
			continue
		}
		byKey[r.key()] = tag
		routes = append(routes, r)
	}
	return routes
}

// newRouteBackend names a service's instances as the gateway template
// does: after the service ID, characters HAProxy does not allow made '_',
// a name past 128 bytes cut and marked with a hash of the ID, a name
// taken already given a hash of node and ID. An instance whose address is
// not an IP address, or whose port is not one, is left out.
func newRouteBackend(svc string, instances []*watch.HealthService) RouteBackend {
	b := RouteBackend{Name: svc, Service: svc}
	taken := map[string]bool{}
	for _, in := range instances {
		name := unsafeServerChars.ReplaceAllString(in.ID, "_")
		if len(name) > 128 {
			name = name[:119] + "-" + hash8(in.ID)
		}
		if taken[name] || name == "" {
			name = name + "-" + hash8(in.Node+"/"+in.ID)
		}
		switch {
		case net.ParseIP(in.Address) == nil || strings.Contains(in.Address, ":::"):
			b.Skipped = append(b.Skipped, fmt.Sprintf("left out %s: its address %q is not an IP address", name, truncate(in.Address, 60)))
		case in.Port < 1 || in.Port > 65535:
			b.Skipped = append(b.Skipped, fmt.Sprintf("left out %s: port %d", name, in.Port))
		default:
			taken[name] = true
			b.Servers = append(b.Servers, RouteServer{Name: name, Address: in.Address, Port: in.Port})
		}
	}
	return b
}

var unsafeServerChars = regexp.MustCompile(`[^A-Za-z0-9_.:-]`)

func hash8(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

// instanceLists accepts what the template collects: one list of
// instances, or a list of such lists.
func instanceLists(v any) ([][]*watch.HealthService, error) {
	switch l := v.(type) {
	case nil:
		return nil, nil
	case []*watch.HealthService:
		return [][]*watch.HealthService{l}, nil
	case [][]*watch.HealthService:
		return l, nil
	case []any:
		var out [][]*watch.HealthService
		for i, x := range l {
			s, ok := x.([]*watch.HealthService)
			if !ok && x != nil {
				return nil, fmt.Errorf("element %d is %T, not a list of service instances", i, x)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%T is not a list of service instances", v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

// routeFuncs are harender's own functions behind the routes template.
func routeFuncs() template.FuncMap {
	return template.FuncMap{
		"urlprefixRoutes":   fnURLPrefixRoutes,
		"urlprefixServices": fnURLPrefixServices,
	}
}
