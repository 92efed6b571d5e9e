package watch

import (
	"testing"
)

// parsed is what every query constructor gives back.
type parsed interface {
	Dependency
	canonical() string
}

// parseKind calls the constructor of a query kind, as named in
// parseCases.
func parseKind(kind, s string) (parsed, error) {
	switch kind {
	case "health":
		return nilSafe(NewHealthServiceQuery(s))
	case "connect":
		return nilSafe(NewHealthConnectQuery(s))
	case "services":
		return nilSafe(NewCatalogServicesQuery(s))
	case "service":
		return nilSafe(NewCatalogServiceQuery(s))
	case "node":
		return nilSafe(NewCatalogNodeQuery(s))
	case "nodes":
		return nilSafe(NewCatalogNodesQuery(s))
	case "kvget":
		return nilSafe(NewKVGetQuery(s))
	case "kvlist":
		return nilSafe(NewKVListQuery(s))
	case "kvkeys":
		return nilSafe(NewKVKeysQuery(s))
	}
	panic("unknown kind " + kind)
}

// nilSafe turns a typed nil pointer into a nil interface.
func nilSafe[T parsed](q T, err error) (parsed, error) {
	if err != nil {
		return nil, err
	}
	return q, nil
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.kind+"/"+tc.in, func(t *testing.T) {
			q, err := parseKind(tc.kind, tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got := q.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			// The canonical form parses back to the same identity.
			again, err := parseKind(tc.kind, q.canonical())
			if err != nil {
				t.Fatalf("re-parse %q: %v", q.canonical(), err)
			}
			if again.String() != tc.want {
				t.Errorf("re-parse %q: String() = %q, want %q", q.canonical(), again.String(), tc.want)
			}
		})
	}
}

func TestParseInvalidQueryKeyIsDeterministic(t *testing.T) {
	want := `kv.get: invalid query parameter key "a" in query "z=1&a=2": supported keys: ns,peer,partition,sameness-group`
	for range 20 {
		_, err := NewKVGetQuery("k?z=1&a=2")
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v, want %q", err, want)
		}
	}
}

func TestKVBlockingIdentity(t *testing.T) {
	q, err := NewKVGetQuery("app/config@dc1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.String(), "kv.get(app/config@dc1)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if q.blocksOnNil() {
		t.Error("blocksOnNil before EnableBlocking")
	}
	q.EnableBlocking()
	if got, want := q.String(), "kv.block(app/config@dc1)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !q.blocksOnNil() {
		t.Error("no blocksOnNil after EnableBlocking")
	}
}

func TestDatacentersIdentity(t *testing.T) {
	plain, _ := NewCatalogDatacentersQuery(false)
	ignoring, _ := NewCatalogDatacentersQuery(true)
	if got := plain.String(); got != "catalog.datacenters" {
		t.Errorf("String() = %q", got)
	}
	if plain.String() == ignoring.String() {
		t.Errorf("both forms share identity %q", plain.String())
	}
}

func TestFilters(t *testing.T) {
	tests := []struct {
		in          string
		filters     []string
		passingOnly bool
	}{
		{"web", []string{"passing"}, true},
		{"web|passing", []string{"passing"}, true},
		{"web|any", []string{"any"}, false},
		{"web|warning,passing", []string{"passing", "warning"}, false},
		{"web|passing,passing", []string{"passing", "passing"}, false},
		{"web|,", nil, false},
	}
	for _, tc := range tests {
		q, err := NewHealthServiceQuery(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if len(q.filters) != len(tc.filters) {
			t.Fatalf("%s: filters = %q, want %q", tc.in, q.filters, tc.filters)
		}
		for i := range q.filters {
			if q.filters[i] != tc.filters[i] {
				t.Fatalf("%s: filters = %q, want %q", tc.in, q.filters, tc.filters)
			}
		}
		if q.passingOnly() != tc.passingOnly {
			t.Errorf("%s: passingOnly = %v", tc.in, q.passingOnly())
		}
	}
}
