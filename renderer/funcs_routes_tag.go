package renderer

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A Fabio route tag: "urlprefix-[host]/path [option ...]". The prefix is
// Fabio's default (registry.consul.tagprefix); the routes template can
// take another.
//
// harender supports the route itself (host and path, matched as Fabio
// does: the host case-blind, the path as a prefix of the request's path)
// and the options strip=/prefix and proto=http. A tag with any other
// option (proto=https, proto=tcp, proto=grpc, tlsskipverify, redirect=,
// host=, weight=, allow=, deny=, auth= ...) is refused, with its reason,
// rather than served in a way the tag did not ask for.

// maxStripDepth is how many path segments strip= may remove: the routes
// template has one set-path rule per depth.
const maxStripDepth = 8

// maxRoutePath bounds a route's path and a strip prefix.
const maxRoutePath = 512

var (
	// routeHost is a DNS name in lower case.
	routeHost = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	// routePath is a path of RFC 3986 characters, less those HAProxy's
	// CLI or map files give a meaning to (quotes, ';', '\', '#', blanks).
	routePath = regexp.MustCompile(`^/[A-Za-z0-9._~!$&()*+,=:@%/-]*$`)
)

// tagRoute is what one route tag asks for.
type tagRoute struct {
	Host  string // lower case; "" for any host
	Path  string // begins with '/'
	Strip string // "" or a prefix of whole segments, with no final '/'
	Depth int    // segments in Strip
}

// key is the route's map key: host and path, joined as HAProxy joins
// the Host header (less its port) and the request's path.
func (r tagRoute) key() string { return r.Host + r.Path }

var errNotRoute = errors.New("not a route tag")

// parseRouteTag reads a Fabio route tag. It returns errNotRoute for a tag
// that does not begin with prefix, and an error that says why for a route
// tag harender cannot serve as written.
func parseRouteTag(tag, prefix string) (tagRoute, error) {
	s, ok := strings.CutPrefix(strings.TrimSpace(tag), prefix)
	if !ok || prefix == "" {
		return tagRoute{}, errNotRoute
	}
	words := strings.Fields(s)
	if len(words) == 0 {
		return tagRoute{}, errors.New("no route after the prefix")
	}
	host, path, ok := strings.Cut(words[0], "/")
	if !ok {
		return tagRoute{}, errors.New("no '/' in the route: TCP routes (:port) and routes without a path are not supported")
	}
	r := tagRoute{Host: strings.ToLower(host), Path: "/" + path}
	if err := checkRouteHost(r.Host); err != nil {
		return tagRoute{}, err
	}
	if err := checkRoutePath("path", r.Path); err != nil {
		return tagRoute{}, err
	}
	for _, o := range words[1:] {
		name, value, _ := strings.Cut(o, "=")
		switch {
		case o == "proto=http":
		case name == "strip" && r.Strip == "" && r.Depth == 0:
			if err := r.setStrip(value); err != nil {
				return tagRoute{}, err
			}
		case name == "strip":
			return tagRoute{}, errors.New("strip= given twice")
		default:
			return tagRoute{}, fmt.Errorf("option %q is not supported (harender supports strip= and proto=http)", truncate(o, 40))
		}
	}
	return r, nil
}

func checkRouteHost(h string) error {
	switch {
	case h == "":
		return nil
	case strings.ContainsAny(h, "*?"):
		return errors.New("glob hosts are not supported")
	case strings.Contains(h, ":"):
		return errors.New("a host with a port is not supported (the Host header is matched without its port)")
	case len(h) > 253 || !routeHost.MatchString(h):
		return fmt.Errorf("host %q is not a DNS name", truncate(h, 60))
	}
	return nil
}

func checkRoutePath(what, p string) error {
	if len(p) > maxRoutePath || !routePath.MatchString(p) {
		return fmt.Errorf("%s %q holds characters harender does not route on (allowed: letters, digits, and -._~!$&()*+,=:@%%/), or is longer than %d bytes",
			what, truncate(p, 60), maxRoutePath)
	}
	return nil
}

// setStrip sets strip= to a prefix of whole path segments: "/a/b" (or
// "/a/b/") strips two. "/" strips nothing, as in Fabio.
func (r *tagRoute) setStrip(v string) error {
	if err := checkRoutePath("strip", v); err != nil {
		return err
	}
	v = strings.TrimSuffix(v, "/")
	if v == "" {
		return nil
	}
	segs := strings.Split(v[1:], "/")
	if slices.Contains(segs, "") {
		return fmt.Errorf("strip=%s has an empty path segment", truncate(v, 60))
	}
	if len(segs) > maxStripDepth {
		return fmt.Errorf("strip=%s removes more than %d path segments", truncate(v, 60), maxStripDepth)
	}
	r.Strip, r.Depth = v, len(segs)
	return nil
}

// truncate cuts s to n bytes for a message, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
