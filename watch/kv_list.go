package watch

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/consul/api"
)

// KVListQuery watches every key under a prefix, as `ls` and `tree` need.
// Its data is []*KeyPair in Consul's (lexical) order, keys relative to the
// prefix.
type KVListQuery struct {
	scope
	prefix string
}

// NewKVListQuery parses a consul-template `ls`/`tree` argument:
// "prefix@dc".
func NewKVListQuery(s string) (*KVListQuery, error) {
	re := kvPrefixRe()
	if s != "" && !re.MatchString(s) {
		return nil, fmt.Errorf("kv.list: invalid format: %q", s)
	}
	m := match(re, s)
	sc, err := parseScope(m, "kv.list")
	if err != nil {
		return nil, err
	}
	return &KVListQuery{
		scope:  scope{dc: sc.dc, namespace: sc.namespace, partition: sc.partition},
		prefix: m["prefix"],
	}, nil
}

// String is the identity: kv.list(prefix@dc).
func (d *KVListQuery) String() string {
	return "kv.list(" + d.prefix + d.suffix() + ")"
}

func (d *KVListQuery) canonical() string {
	return canonicalKey(d.prefix) + d.canonicalQuery() + d.canonicalDC()
}

// Fetch implements Dependency.
func (d *KVListQuery) Fetch(ctx context.Context, c *api.Client, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	pairs, meta, err := c.KV().List(d.prefix, d.options(ctx, q, ""))
	observe(ctx, "kv/list", err)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d, err)
	}
	return keyPairs(pairs, d.prefix), meta, nil
}

// keyPairs converts Consul's pairs; Key is the key with the prefix and any
// leading "/" removed, Path the full key.
func keyPairs(pairs api.KVPairs, prefix string) []*KeyPair {
	list := make([]*KeyPair, 0, len(pairs))
	for _, p := range pairs {
		if p == nil {
			continue
		}
		list = append(list, &KeyPair{
			Path:        p.Key,
			Key:         strings.TrimLeft(strings.TrimPrefix(p.Key, prefix), "/"),
			Value:       string(p.Value),
			CreateIndex: p.CreateIndex,
			ModifyIndex: p.ModifyIndex,
			LockIndex:   p.LockIndex,
			Flags:       p.Flags,
			Session:     p.Session,
		})
	}
	return list
}
