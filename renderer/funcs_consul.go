package renderer

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/harender/harender/watch"
)

// consulFuncs are the template functions that read Consul data (and
// `file`, which rides the same dependency machinery). Each one
// names its dependency, records it as used, and returns empty data (and
// records it as missing) until the data has arrived: the same contract as
// consul-template, so the same templates work.
type consulFuncs struct {
	x       *execution  // the execution under way
	queries *queryCache // the template's parsed `service` queries; nil: none kept
}

// execution is what one Execute binds the functions to: its data, what it
// asked for, its scratch. A bound template is reused by later executions
// (render.go), each setting its own.
type execution struct {
	r             Recaller
	used, missing *depSet
	scratch       *Scratch
}

func (c consulFuncs) funcMap() template.FuncMap {
	return template.FuncMap{
		"datacenters":  c.datacenters,
		"file":         c.file,
		"key":          c.key,
		"keyExists":    c.keyExists,
		"keyOrDefault": c.keyOrDefault,
		"ls":           c.ls(true),
		"safeLs":       c.ls(false),
		"tree":         c.tree(true),
		"safeTree":     c.tree(false),
		"node":         c.node,
		"nodes":        c.nodes,
		"service":      c.service,
		"connect":      c.connect,
		"services":     c.services,
	}
}

// recall records d as used and returns its data, or records it as missing.
func (c consulFuncs) recall(d watch.Dependency) (any, bool) {
	c.x.used.add(d)
	if c.x.r != nil {
		if v, ok := c.x.r.Get(d); ok {
			return v, true
		}
	}
	c.x.missing.add(d)
	return nil, false
}

func (c consulFuncs) datacenters(ignore ...bool) ([]string, error) {
	result := []string{}
	var ig bool
	switch len(ignore) {
	case 0:
	case 1:
		ig = ignore[0]
	default:
		return result, fmt.Errorf("datacenters: wrong number of arguments, expected 0 or 1"+
			", but got %d", len(ignore))
	}
	d, err := watch.NewCatalogDatacentersQuery(ig)
	if err != nil {
		return result, err
	}
	if v, ok := c.recall(d); ok {
		return v.([]string), nil
	}
	return result, nil
}

// file is a local file's contents, re-read when it changes.
func (c consulFuncs) file(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	d, err := watch.NewFileQuery(strings.TrimSpace(s))
	if err != nil {
		return "", err
	}
	if v, ok := c.recall(d); ok && v != nil {
		return v.(string), nil
	}
	return "", nil
}

func (c consulFuncs) key(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	d, err := watch.NewKVGetQuery(s)
	if err != nil {
		return "", err
	}
	d.EnableBlocking()
	if v, ok := c.recall(d); ok && v != nil {
		return v.(string), nil
	}
	return "", nil
}

func (c consulFuncs) keyExists(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	d, err := watch.NewKVGetQuery(s)
	if err != nil {
		return false, err
	}
	v, ok := c.recall(d)
	return ok && v != nil, nil
}

func (c consulFuncs) keyOrDefault(s, def string) (string, error) {
	if s == "" {
		return def, nil
	}
	d, err := watch.NewKVGetQuery(s)
	if err != nil {
		return "", err
	}
	if v, ok := c.recall(d); ok && v != nil && v.(string) != "" {
		return v.(string), nil
	}
	return def, nil
}

// ls lists the top-level keys under a prefix. The safe form (emptyIsSafe
// false) treats an empty answer as missing data, so nothing is rendered.
func (c consulFuncs) ls(emptyIsSafe bool) func(string) ([]*watch.KeyPair, error) {
	return c.pairs(emptyIsSafe, func(p *watch.KeyPair) bool {
		return p.Key != "" && !strings.Contains(p.Key, "/")
	})
}

// tree lists every key under a prefix that is not a folder.
func (c consulFuncs) tree(emptyIsSafe bool) func(string) ([]*watch.KeyPair, error) {
	return c.pairs(emptyIsSafe, func(p *watch.KeyPair) bool {
		parts := strings.Split(p.Key, "/")
		return parts[len(parts)-1] != ""
	})
}

func (c consulFuncs) pairs(emptyIsSafe bool, keep func(*watch.KeyPair) bool) func(string) ([]*watch.KeyPair, error) {
	return func(s string) ([]*watch.KeyPair, error) {
		result := []*watch.KeyPair{}
		if s == "" {
			return result, nil
		}
		d, err := watch.NewKVListQuery(s)
		if err != nil {
			return result, err
		}
		c.x.used.add(d)
		if c.x.r != nil {
			if v, ok := c.x.r.Get(d); ok {
				for _, p := range v.([]*watch.KeyPair) {
					if keep(p) {
						result = append(result, p)
					}
				}
				if len(result) > 0 || emptyIsSafe {
					return result, nil
				}
			}
		}
		c.x.missing.add(d)
		return result, nil
	}
}

func (c consulFuncs) node(s ...string) (any, error) {
	d, err := watch.NewCatalogNodeQuery(strings.Join(s, ""))
	if err != nil {
		return nil, err
	}
	if v, ok := c.recall(d); ok {
		return v.(*watch.CatalogNode), nil
	}
	return nil, nil
}

func (c consulFuncs) nodes(s ...string) ([]*watch.Node, error) {
	d, err := watch.NewCatalogNodesQuery(strings.Join(s, ""))
	if err != nil {
		return nil, err
	}
	if v, ok := c.recall(d); ok {
		return v.([]*watch.Node), nil
	}
	return []*watch.Node{}, nil
}

func (c consulFuncs) service(s ...string) ([]*watch.HealthService, error) {
	return c.health(false, watch.NewHealthServiceQuery, s)
}

func (c consulFuncs) connect(s ...string) ([]*watch.HealthService, error) {
	return c.health(true, watch.NewHealthConnectQuery, s)
}

func (c consulFuncs) health(connect bool, parse func(string) (*watch.HealthServiceQuery, error), s []string) ([]*watch.HealthService, error) {
	result := []*watch.HealthService{}
	if len(s) == 0 || s[0] == "" {
		return result, nil
	}
	arg := s[0]
	if len(s) > 1 {
		arg = strings.Join(s, "|")
	}
	d, err := c.queries.health(connect, arg, parse)
	if err != nil {
		return nil, err
	}
	if v, ok := c.recall(d); ok {
		return v.([]*watch.HealthService), nil
	}
	return result, nil
}

func (c consulFuncs) services(s ...string) ([]*watch.CatalogSnippet, error) {
	d, err := watch.NewCatalogServicesQuery(strings.Join(s, ""))
	if err != nil {
		return nil, err
	}
	if v, ok := c.recall(d); ok {
		return v.([]*watch.CatalogSnippet), nil
	}
	return []*watch.CatalogSnippet{}, nil
}
