package watch

import (
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/consul/api"
)

// Values that many instances repeat, beside the node data (intern.go):
// the names and statuses of their checks, their node's name and address,
// their service's name, meta and tags. JSON decoding gives each instance
// its own copy; a small map per instance (meta such as {"weight": "1"})
// costs about 300 bytes, so at 10,000 instances these copies were about a
// fifth of the watcher's live heap. Only values seen again are shared, and
// a shared value is always equal to the one it replaces.

// maxInternedValues bounds each table; past it, the table starts again
// empty.
const maxInternedValues = 1 << 16

// values holds one of each value seen. The interner's mutex guards it.
type values struct {
	strs map[string]string
	maps map[string]map[string]string
	tags map[string][]string
}

// str returns a string equal to s, shared with earlier ones.
func (v *values) str(s string) string {
	if s == "" {
		return s
	}
	if old, ok := v.strs[s]; ok {
		return old
	}
	if v.strs == nil || len(v.strs) >= maxInternedValues {
		v.strs = map[string]string{}
	}
	v.strs[s] = s
	return s
}

// list returns a list equal to l (same elements, same order), shared with
// earlier ones.
func (v *values) list(l []string) []string {
	if len(l) == 0 {
		return l
	}
	key := strings.Join(l, "\x00")
	if old, ok := v.tags[key]; ok && slices.Equal(old, l) {
		return old
	}
	if v.tags == nil || len(v.tags) >= maxInternedValues {
		v.tags = map[string][]string{}
	}
	for i := range l {
		l[i] = v.str(l[i])
	}
	v.tags[key] = l
	return l
}

// smallMap returns a map equal to m, shared with earlier ones. Maps of
// more than 16 entries are left as they are.
func (v *values) smallMap(m map[string]string) map[string]string {
	if len(m) == 0 || len(m) > 16 {
		return m
	}
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	key := b.String()
	if old, ok := v.maps[key]; ok && maps.Equal(old, m) {
		return old
	}
	if v.maps == nil || len(v.maps) >= maxInternedValues {
		v.maps = map[string]map[string]string{}
	}
	v.maps[key] = m
	return m
}

// instance shares the repeated values of one entry. The interner's mutex
// is held.
func (v *values) instance(e *api.ServiceEntry) {
	e.Node.Node = v.str(e.Node.Node)
	e.Node.ID = v.str(e.Node.ID)
	e.Node.Address = v.str(e.Node.Address)
	e.Service.Service = v.str(e.Service.Service)
	e.Service.Address = v.str(e.Service.Address)
	e.Service.Meta = v.smallMap(e.Service.Meta)
	for _, c := range e.Checks {
		if c == nil || c.ServiceID == "" {
			continue // node checks: shared whole (intern.go)
		}
		c.Node, c.Name, c.Status = v.str(c.Node), v.str(c.Name), v.str(c.Status)
		c.ServiceName, c.Type = v.str(c.ServiceName), v.str(c.Type)
		c.ServiceTags = v.list(c.ServiceTags)
	}
}
