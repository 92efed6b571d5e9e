package watch

import (
	"net"
	"strings"
	"testing"

	serf "github.com/hashicorp/serf/client"
)

func TestNewSerfMembersQuery(t *testing.T) {
	cases := []struct {
		filter, want, err string
	}{
		{filter: "", want: "serf.members()"},
		{filter: "role=gateway", want: "serf.members(role=gateway)"},
		{filter: " role = gateway , dc=east|west", want: "serf.members(dc=east|west,role=gateway)"},
		{filter: "role=gateway,dc=eu-.*", want: "serf.members(dc=eu-.*,role=gateway)"},
		{filter: "port=", want: "serf.members(port=)"},
		{filter: "role=[a", err: `serfMembers "role=[a": tag "role": bad regexp: error parsing regexp: missing closing ]: ` + "`[a`"},
		{filter: "role=a)|(b", err: `tag "role": bad regexp: error parsing regexp: unexpected ): ` + "`a)|(b`"},
		{filter: "role", err: `serfMembers "role": "role" is not tag=regexp`},
		{filter: "=gateway", err: `"=gateway" is not tag=regexp`},
		{filter: "role=a,", err: `"" is not tag=regexp`},
		{filter: "role=a,role=b", err: `tag "role" is given twice`},
	}
	for _, c := range cases {
		d, err := NewSerfMembersQuery(c.filter)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err = %v, want %q", c.filter, err, c.err)
			}
		case err != nil:
			t.Errorf("%q: %v", c.filter, err)
		case d.String() != c.want:
			t.Errorf("%q: String() = %q, want %q", c.filter, d.String(), c.want)
		}
	}
}

// Each regexp matches a whole tag value, alternations included, and a
// missing tag is the empty value.
func TestSerfMembersKeep(t *testing.T) {
	m := func(name, status string, tags map[string]string) serf.Member {
		return serf.Member{Name: name, Addr: net.ParseIP("127.0.0.1"), Port: 7946, Status: status, Tags: tags}
	}
	answer := []serf.Member{
		m("gw-3", "alive", map[string]string{"role": "gateway"}),
		m("gw-1", "alive", map[string]string{"role": "gateway", "dc": "west"}),
		m("gw-2", "failed", map[string]string{"role": "gateway"}),
		m("gw-4", "alive", map[string]string{"role": "gateway-canary"}),
		m("lb", "alive", map[string]string{"role": "lb"}),
		m("gw-5", "left", map[string]string{"role": "gateway"}),
		m("gw-6", "alive", map[string]string{"role": "xgateway"}),
	}
	cases := map[string]string{
		"role=gateway":            "gw-1 gw-3",
		"role=gateway|lb":         "gw-1 gw-3 lb",
		"role=gateway.*":          "gw-1 gw-3 gw-4",
		"role=gateway,dc=west":    "gw-1",
		"dc=":                     "gw-3 gw-4 gw-6 lb",
		"":                        "gw-1 gw-3 gw-4 gw-6 lb",
		"role=gateway,dc=(east)?": "gw-3",
	}
	for filter, want := range cases {
		d, err := NewSerfMembersQuery(filter)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range d.keep(answer) {
			names = append(names, x.Name)
			if x.Addr != "127.0.0.1" || x.Port != 7946 || x.Status != "alive" {
				t.Errorf("%q: member %+v", filter, x)
			}
		}
		if got := strings.Join(names, " "); got != want {
			t.Errorf("%q: %q, want %q", filter, got, want)
		}
	}
}

// The agent anchors each expression as ^EXPR$; the group keeps an
// alternation whole, so that "gateway|lb" does not match "xgateway".
func TestSerfMembersTagsForAgent(t *testing.T) {
	d, err := NewSerfMembersQuery("role=gateway|lb")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.tags()["role"]; got != "(?:gateway|lb)" {
		t.Errorf("tags sent: %q", got)
	}
}

// FuzzSerfFilter: any filter either fails to parse or parses to a query
// whose canonical form parses to itself, and whose regexps never panic.
func FuzzSerfFilter(f *testing.F) {
	for _, s := range []string{"", "role=gateway", " role = a|b ,dc=eu-.*", "role=[a", "a=b,a=c", "x=)(", "p=(?:a),q=", ",", "="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		d, err := NewSerfMembersQuery(filter)
		if err != nil {
			return
		}
		canon := strings.TrimSuffix(strings.TrimPrefix(d.String(), "serf.members("), ")")
		again, err := NewSerfMembersQuery(canon)
		if err != nil {
			t.Fatalf("%q parses, its canonical form %q does not: %v", filter, canon, err)
		}
		if again.String() != d.String() {
			t.Fatalf("%q: canonical %q, parsed again %q", filter, d.String(), again.String())
		}
		d.keep([]serf.Member{{Name: "m", Status: "alive", Tags: map[string]string{"role": filter}}})
	})
}
