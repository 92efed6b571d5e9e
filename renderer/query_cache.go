package renderer

import (
	"sync"

	"github.com/harender/harender/watch"
)

// queryCache keeps the `service` and `connect` queries a template has
// parsed, by function and argument, for the life of the parsed template.
// A template that ranges over a whole catalog calls `service .Name` once
// per service on every render; parsing each argument again (a regular
// expression match and a map per call) was most of a render's time at
// 10,000 instances. Parsed queries are immutable, so renders share them.
type queryCache struct {
	mu sync.Mutex
	m  map[queryKey]*watch.HealthServiceQuery
}

type queryKey struct {
	connect bool
	arg     string
}

// queryCacheMax bounds the cache: arguments built from Consul data (names
// of services since deregistered) must not grow it without end. Past it,
// queries are parsed each time, as before.
const queryCacheMax = 1 << 16

// health returns the parsed query of arg, parsing it with parse the first
// time. A nil cache parses every time.
func (c *queryCache) health(connect bool, arg string, parse func(string) (*watch.HealthServiceQuery, error)) (*watch.HealthServiceQuery, error) {
	if c == nil {
		return parse(arg)
	}
	k := queryKey{connect, arg}
	c.mu.Lock()
	d, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := parse(arg)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[queryKey]*watch.HealthServiceQuery{}
	}
	if len(c.m) < queryCacheMax {
		c.m[k] = d
	}
	c.mu.Unlock()
	return d, nil
}
