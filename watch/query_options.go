package watch

import (
	"context"

	"github.com/hashicorp/consul/api"
)

// options returns a copy of q scoped to sc, with near set, bound to ctx.
// q may be nil.
func (sc scope) options(ctx context.Context, q *api.QueryOptions, near string) *api.QueryOptions {
	var o api.QueryOptions
	if q != nil {
		o = *q
	}
	if sc.dc != "" {
		o.Datacenter = sc.dc
	}
	if sc.namespace != "" {
		o.Namespace = sc.namespace
	}
	if sc.partition != "" {
		o.Partition = sc.partition
	}
	if sc.peer != "" {
		o.Peer = sc.peer
	}
	if sc.samenessGroup != "" {
		o.SamenessGroup = sc.samenessGroup
	}
	if near != "" {
		o.Near = near
	}
	return o.WithContext(ctx)
}

// canonicalQuery renders the "?ns=..&partition=.." part of a query string
// that parses back to sc. The values cannot contain '&' (the grammar does
// not allow it), so no escaping is needed.
func (sc scope) canonicalQuery() string {
	var s string
	add := func(k, v string) {
		if v == "" {
			return
		}
		if s == "" {
			s = "?"
		} else {
			s += "&"
		}
		s += k + "=" + v
	}
	add(queryNamespace, sc.namespace)
	add(queryPartition, sc.partition)
	add(queryPeer, sc.peer)
	add(querySamenessGroup, sc.samenessGroup)
	return s
}

// canonicalDC renders the "@dc" part of a query string.
func (sc scope) canonicalDC() string {
	if sc.dc == "" {
		return ""
	}
	return "@" + sc.dc
}
