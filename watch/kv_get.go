package watch

import (
	"context"
	"fmt"

	"github.com/hashicorp/consul/api"
)

// KVGetQuery watches one key. Its data is the value as a string, or an
// untyped nil when the key does not exist, exactly as in consul-template:
//   - `keyExists` and `keyOrDefault` use NewKVGetQuery as is (identity
//     kv.get(key)); a nil answer is delivered, meaning "absent";
//   - `key` calls EnableBlocking (identity kv.block(key)); a nil answer is
//     never delivered, so the key stays missing until it exists.
type KVGetQuery struct {
	scope
	key      string
	blocking bool
}

// NewKVGetQuery parses a consul-template `key` argument: "path/to/key@dc".
func NewKVGetQuery(s string) (*KVGetQuery, error) {
	re := kvGetRe()
	if s != "" && !re.MatchString(s) {
		return nil, fmt.Errorf("kv.get: invalid format: %q", s)
	}
	m := match(re, s)
	sc, err := parseScope(m, "kv.get")
	if err != nil {
		return nil, err
	}
	return &KVGetQuery{
		scope: scope{dc: sc.dc, namespace: sc.namespace, partition: sc.partition},
		key:   m["key"],
	}, nil
}

// EnableBlocking makes the query hold back "key absent" answers; call it
// before the query is watched. It changes the identity to kv.block(...).
func (d *KVGetQuery) EnableBlocking() {
	d.blocking = true
}

// blocksOnNil tells the Watcher not to deliver nil data.
func (d *KVGetQuery) blocksOnNil() bool {
	return d.blocking
}

// String is the identity: kv.get(key@dc) or kv.block(key@dc).
func (d *KVGetQuery) String() string {
	key := d.key + d.suffix()
	if d.blocking {
		return "kv.block(" + key + ")"
	}
	return "kv.get(" + key + ")"
}

func (d *KVGetQuery) canonical() string {
	return canonicalKey(d.key) + d.canonicalQuery() + d.canonicalDC()
}

// Fetch implements Dependency.
func (d *KVGetQuery) Fetch(ctx context.Context, c *api.Client, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	pair, meta, err := c.KV().Get(d.key, d.options(ctx, q, ""))
	observe(ctx, "kv/get", err)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d, err)
	}
	if pair == nil {
		return nil, meta, nil
	}
	return string(pair.Value), meta, nil
}

// canonicalKey writes a key or prefix so that the grammar's optional
// leading "/" gives it back unchanged.
func canonicalKey(k string) string {
	if k == "" {
		return ""
	}
	return "/" + k
}
