// Package watch is the only place that talks to Consul. It runs blocking
// queries for the dependencies that templates discover, and hands out
// immutable snapshots of what has arrived.
package watch

import (
	"context"

	"github.com/hashicorp/consul/api"
)

// Dependency is one piece of Consul data a template needs. String is its
// identity and its cache key: two dependencies with the same String are the
// same query.
type Dependency interface {
	String() string
	// Fetch runs one (blocking) query. q carries WaitIndex, WaitTime and
	// AllowStale; Fetch must call q.WithContext(ctx) and return data in the
	// sorted, consul-template-compatible shape.
	Fetch(ctx context.Context, c *api.Client, q *api.QueryOptions) (any, *api.QueryMeta, error)
}
