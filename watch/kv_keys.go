package watch

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/consul/api"
)

// KVKeysQuery watches the names of the keys under a prefix. Its data is
// []string, relative to the prefix, in Consul's order.
type KVKeysQuery struct {
	scope
	prefix string
}

// NewKVKeysQuery parses a prefix query string: "prefix@dc".
func NewKVKeysQuery(s string) (*KVKeysQuery, error) {
	re := kvPrefixRe()
	if s != "" && !re.MatchString(s) {
		return nil, fmt.Errorf("kv.keys: invalid format: %q", s)
	}
	m := match(re, s)
	sc, err := parseScope(m, "kv.keys")
	if err != nil {
		return nil, err
	}
	return &KVKeysQuery{
		scope:  scope{dc: sc.dc, namespace: sc.namespace, partition: sc.partition},
		prefix: m["prefix"],
	}, nil
}

// String is the identity: kv.keys(prefix@dc).
func (d *KVKeysQuery) String() string {
	return "kv.keys(" + d.prefix + d.suffix() + ")"
}

func (d *KVKeysQuery) canonical() string {
	return canonicalKey(d.prefix) + d.canonicalQuery() + d.canonicalDC()
}

// Fetch implements Dependency.
func (d *KVKeysQuery) Fetch(ctx context.Context, c *api.Client, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	list, meta, err := c.KV().Keys(d.prefix, "", d.options(ctx, q, ""))
	observe(ctx, "kv/keys", err)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d, err)
	}
	return relativeKeys(list, d.prefix), meta, nil
}

// relativeKeys strips the prefix and any leading "/" from each key.
func relativeKeys(list []string, prefix string) []string {
	keys := make([]string, len(list))
	for i, k := range list {
		keys[i] = strings.TrimLeft(strings.TrimPrefix(k, prefix), "/")
	}
	return keys
}
