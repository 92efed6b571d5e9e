package renderer

import (
	"fmt"
	"text/template"

	"github.com/harender/harender/watch"
)

// serfFuncs are the template functions that read a Serf cluster's
// membership. They follow the Consul functions' contract: the dependency is
// recorded as used, and empty data is returned (and recorded as missing)
// until the data has arrived.
type serfFuncs struct {
	consulFuncs
}

func (s serfFuncs) funcMap() template.FuncMap {
	return template.FuncMap{"serfMembers": s.serfMembers}
}

// serfMembers ranges over the alive members whose tags match filter
// ("role=gateway,dc=east": tag=regexp pairs), sorted by name. A bad filter
// is an error, which the template's file:line:col then names.
func (s serfFuncs) serfMembers(filter ...string) ([]*watch.SerfMember, error) {
	var f string
	switch len(filter) {
	case 0:
	case 1:
		f = filter[0]
	default:
		return nil, fmt.Errorf("serfMembers: wrong number of arguments, expected 0 or 1, but got %d", len(filter))
	}
	d, err := watch.NewSerfMembersQuery(f)
	if err != nil {
		return nil, err
	}
	if v, ok := s.recall(d); ok {
		return v.([]*watch.SerfMember), nil
	}
	return []*watch.SerfMember{}, nil
}
