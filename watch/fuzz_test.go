package watch

import "testing"

// fuzzParse checks that parsing never panics and that a parsed query's
// canonical form parses back to the same identity.
func fuzzParse(f *testing.F, kind string) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Add("v1.web?ns=a&partition=b&peer=c@dc1~n1|passing,warning,critical,maintenance,any")
	f.Add("app/config?ns=a=b&partition=@dc-1.x")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parseKind(kind, s)
		if err != nil {
			return
		}
		id := q.String()
		again, err := parseKind(kind, q.canonical())
		if err != nil {
			t.Fatalf("%q parsed to %s, but its canonical form %q does not: %v", s, id, q.canonical(), err)
		}
		if again.String() != id {
			t.Fatalf("%q parsed to %s, its canonical form %q to %s", s, id, q.canonical(), again.String())
		}
	})
}

func FuzzNewHealthServiceQuery(f *testing.F)   { fuzzParse(f, "health") }
func FuzzNewHealthConnectQuery(f *testing.F)   { fuzzParse(f, "connect") }
func FuzzNewCatalogServicesQuery(f *testing.F) { fuzzParse(f, "services") }
func FuzzNewCatalogServiceQuery(f *testing.F)  { fuzzParse(f, "service") }
func FuzzNewCatalogNodeQuery(f *testing.F)     { fuzzParse(f, "node") }
func FuzzNewCatalogNodesQuery(f *testing.F)    { fuzzParse(f, "nodes") }
func FuzzNewKVGetQuery(f *testing.F)           { fuzzParse(f, "kvget") }
func FuzzNewKVListQuery(f *testing.F)          { fuzzParse(f, "kvlist") }
func FuzzNewKVKeysQuery(f *testing.F)          { fuzzParse(f, "kvkeys") }
