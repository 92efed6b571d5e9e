package watch

import "testing"

// queryKinds are the query constructors, named as parseKind names them.
var queryKinds = []string{"health", "connect", "services", "service", "node", "nodes", "kvget", "kvlist", "kvkeys"}

// FuzzParseQuery feeds every input to every query constructor (the
// `service` query string of health.service and catalog.service among
// them): parsing never panics, and a parsed query's canonical form parses
// back to the same identity. One target for the nine constructors, so
// that an input one of them finds interesting is tried on all, and CI
// spends its fuzzing time once.
func FuzzParseQuery(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Add("v1.web?ns=a&partition=b&peer=c@dc1~n1|passing,warning,critical,maintenance,any")
	f.Add("app/config?ns=a=b&partition=@dc-1.x")
	f.Add("web?sameness-group=s&ns=n&partition=p@dc1~near|any")
	f.Fuzz(func(t *testing.T, s string) {
		for _, kind := range queryKinds {
			q, err := parseKind(kind, s)
			if err != nil {
				continue
			}
			id := q.String()
			again, err := parseKind(kind, q.canonical())
			if err != nil {
				t.Fatalf("%s %q parsed to %s, but its canonical form %q does not: %v", kind, s, id, q.canonical(), err)
			}
			if again.String() != id {
				t.Fatalf("%s %q parsed to %s, its canonical form %q to %s", kind, s, id, q.canonical(), again.String())
			}
		}
	})
}
