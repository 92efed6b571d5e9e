package watch

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
	serf "github.com/hashicorp/serf/client"
)

// SerfMember is one live member of a Serf cluster, as serfMembers hands it
// to a template. Its tags are the member's own: not trusted.
type SerfMember struct {
	Name   string
	Addr   string // IP address
	Port   int    // the Serf (gossip) port
	Tags   map[string]string
	Status string
}

// SerfMembersQuery is the serfMembers template function's dependency: the
// alive members of the cluster of the configured Serf agent whose tags
// match a filter, sorted by name. It is woken by the agent's member
// events, through the Watcher's Serf.
type SerfMembersQuery struct {
	filter []serfTag // sorted by tag
}

// serfTag is one tag=regexp pair of a filter.
type serfTag struct {
	tag, expr string
	re        *regexp.Regexp
}

// NewSerfMembersQuery parses a filter: tag=regexp pairs separated by
// commas ("role=gateway,dc=east"), each regexp matching the whole tag value
// (a missing tag is the empty value). Blanks around tags and regexps are
// dropped; a regexp cannot hold a comma. An empty filter selects every live
// member.
func NewSerfMembersQuery(filter string) (*SerfMembersQuery, error) {
	d := &SerfMembersQuery{}
	if strings.TrimSpace(filter) == "" {
		return d, nil
	}
	seen := map[string]bool{}
	for _, pair := range strings.Split(filter, ",") {
		tag, expr, ok := strings.Cut(strings.TrimSpace(pair), "=")
		tag, expr = strings.TrimSpace(tag), strings.TrimSpace(expr)
		switch {
		case !ok || tag == "":
			return nil, fmt.Errorf("serfMembers %q: %q is not tag=regexp", filter, strings.TrimSpace(pair))
		case seen[tag]:
			return nil, fmt.Errorf("serfMembers %q: tag %q is given twice", filter, tag)
		}
		seen[tag] = true
		// Compiled alone first, so that an error quotes what was written.
		if _, err := regexp.Compile(expr); err != nil {
			return nil, fmt.Errorf("serfMembers %q: tag %q: bad regexp: %w", filter, tag, err)
		}
		re := regexp.MustCompile(`^(?:` + expr + `)$`)
		d.filter = append(d.filter, serfTag{tag: tag, expr: expr, re: re})
	}
	slices.SortFunc(d.filter, func(a, b serfTag) int { return strings.Compare(a.tag, b.tag) })
	return d, nil
}

// String is the canonical form: pairs sorted by tag.
func (d *SerfMembersQuery) String() string {
	pairs := make([]string, len(d.filter))
	for i, f := range d.filter {
		pairs[i] = f.tag + "=" + f.expr
	}
	return "serf.members(" + strings.Join(pairs, ",") + ")"
}

// errNoSerf is the answer of a serfMembers query on a Watcher with no Serf.
var errNoSerf = errors.New("serfMembers: no Serf agent configured (serf { rpc_addr = ... })")

// Fetch implements Dependency. A serfMembers query needs the Watcher's
// Serf, which Watcher.fetch hands to fetchSerf; on its own it fails.
func (d *SerfMembersQuery) Fetch(context.Context, *api.Client, *api.QueryOptions) (any, *api.QueryMeta, error) {
	return nil, nil, errNoSerf
}

// serfDependency is a dependency answered by a Serf agent.
type serfDependency interface {
	fetchSerf(ctx context.Context, s *Serf, q *api.QueryOptions) (any, *api.QueryMeta, error)
}

// fetchSerf answers once the agent's index differs from q.WaitIndex (a
// member event, or a new connection), or after q.WaitTime with the same
// index. A failure returns an error, so that the Watcher keeps what it
// delivered last and retries with backoff.
func (d *SerfMembersQuery) fetchSerf(ctx context.Context, s *Serf, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	if s == nil {
		return nil, nil, errNoSerf
	}
	deadline := time.Now().Add(q.WaitTime)
	for {
		c, index, wake, err := s.connection()
		if err != nil {
			return nil, nil, err
		}
		if index != q.WaitIndex || !time.Now().Before(deadline) {
			ms, err := s.members(ctx, c, d.tags())
			if err != nil {
				return nil, nil, err
			}
			return d.keep(ms), &api.QueryMeta{LastIndex: index, KnownLeader: true}, nil
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// tags is the filter as the agent takes it; it anchors each expression
// as ^EXPR$, so the group keeps an alternation whole.
func (d *SerfMembersQuery) tags() map[string]string {
	if len(d.filter) == 0 {
		return nil
	}
	m := make(map[string]string, len(d.filter))
	for _, f := range d.filter {
		m[f.tag] = "(?:" + f.expr + ")"
	}
	return m
}

// keep converts the agent's answer, filtering it again (an older agent, or
// one that ignores a field, must not widen the selection), sorted by name.
func (d *SerfMembersQuery) keep(ms []serf.Member) []*SerfMember {
	out := []*SerfMember{}
next:
	for _, m := range ms {
		if m.Status != "alive" {
			continue
		}
		for _, f := range d.filter {
			if !f.re.MatchString(m.Tags[f.tag]) {
				continue next
			}
		}
		tags := make(map[string]string, len(m.Tags))
		for k, v := range m.Tags {
			tags[k] = v
		}
		out = append(out, &SerfMember{Name: m.Name, Addr: m.Addr.String(), Port: int(m.Port), Tags: tags, Status: m.Status})
	}
	slices.SortFunc(out, func(a, b *SerfMember) int { return strings.Compare(a.Name, b.Name) })
	return out
}
