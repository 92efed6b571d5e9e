package renderer

import (
	"errors"
	"strings"
	"testing"

	"github.com/harender/harender/templates"
	"github.com/harender/harender/watch"
)

// serfData is members answered for filter, as the Watcher stores them.
func serfData(t *testing.T, filter string, ms ...*watch.SerfMember) mapRecaller {
	t.Helper()
	d, err := watch.NewSerfMembersQuery(filter)
	if err != nil {
		t.Fatal(err)
	}
	return mapRecaller{d.String(): ms}
}

func TestSerfMembersRanges(t *testing.T) {
	tmpl, err := Parse("t.tmpl", `{{ range serfMembers "role=gateway" }}{{ .Name }} {{ .Addr }}:{{ .Tags.port }} {{ .Status }} {{ .Port }}
{{ end }}`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := tmpl.Execute(mapRecaller{})
	if err != nil || len(res.Missing) != 1 || res.Missing[0].String() != "serf.members(role=gateway)" {
		t.Fatalf("before data: err %v, missing %v; want serf.members(role=gateway) missing", err, res.Missing)
	}
	res, err = tmpl.Execute(serfData(t, "role=gateway",
		&watch.SerfMember{Name: "gw-1", Addr: "127.0.0.1", Port: 7946, Status: "alive", Tags: map[string]string{"port": "8081"}},
		&watch.SerfMember{Name: "gw-2", Addr: "127.0.0.2", Port: 7947, Status: "alive", Tags: map[string]string{"port": "8082"}}))
	if err != nil {
		t.Fatal(err)
	}
	want := "gw-1 127.0.0.1:8081 alive 7946\ngw-2 127.0.0.2:8082 alive 7947\n"
	if string(res.Output) != want || len(res.Missing) != 0 {
		t.Errorf("output %q, missing %v; want %q", res.Output, res.Missing, want)
	}
}

// A filter that does not parse fails the render with the template's
// file:line:col and says what is wrong with it.
func TestSerfMembersBadFilter(t *testing.T) {
	cases := []struct{ filter, want string }{
		{`role=[gateway`, `serfMembers "role=[gateway": tag "role": bad regexp: error parsing regexp: missing closing ]: ` + "`[gateway`"},
		{`role`, `serfMembers "role": "role" is not tag=regexp`},
		{`role=a,,dc=b`, `serfMembers "role=a,,dc=b": "" is not tag=regexp`},
		{`role=a,role=b`, `serfMembers "role=a,role=b": tag "role" is given twice`},
	}
	for _, c := range cases {
		tmpl, err := Parse("gw.tmpl", "backend x\n  {{ range serfMembers \""+c.filter+"\" }}{{ .Name }}{{ end }}\n", Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tmpl.Execute(mapRecaller{})
		var te *TemplateError
		if !errors.As(err, &te) || te.File != "gw.tmpl" || te.Line != 2 || te.Col != 11 || !strings.Contains(te.Cause, c.want) {
			t.Errorf("filter %q: err = %v; want gw.tmpl:2:11: ... %s", c.filter, err, c.want)
		}
	}
}

// The built-in gateway template on Serf: one server per member with a good
// port tag, named after the member; hostile names and tags neither inject
// options nor break the config.
func TestBuiltinGatewaySerf(t *testing.T) {
	text, _ := templates.Get("gateway")
	tmpl, err := Parse("builtin:gateway", text, Options{Params: map[string]string{
		"source": "serf", "serf_filter": "role=gateway", "port_tag": "http",
	}})
	if err != nil {
		t.Fatal(err)
	}
	member := func(name, addr, port string) *watch.SerfMember {
		return &watch.SerfMember{Name: name, Addr: addr, Port: 7946, Status: "alive",
			Tags: map[string]string{"role": "gateway", "http": port}}
	}
	res, err := tmpl.Execute(serfData(t, "role=gateway",
		member("gw-1", "10.0.0.1", "8081"),
		member("gw 2\nbackup", "10.0.0.2", "8082"),
		member("gw-3", "10.0.0.3", "8083 backup"),
		member("gw-4", "10.0.0.4", "70000"),
		member("gw-5", "<nil>", "8085"),
		member("gw-6", "10.0.0.6", ""),
		member("gw-7", "fd00::7", "8087"),
	))
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.Output)
	for _, want := range []string{
		"\nbackend gateway\n",
		"\n    server gw-1 10.0.0.1:8081 check\n",
		"\n    server gw_2_backup 10.0.0.2:8082 check\n",
		"\n    # left out gw-3 of service gateway: its tag http is not a port number\n",
		"\n    # left out gw-4 of service gateway: its tag http is not a port number\n",
		"\n    # left out gw-5 of service gateway: its address is not an IP address\n",
		"\n    # left out gw-6 of service gateway: its tag http is not a port number\n",
		"\n    server gw-7 fd00::7:8087 check",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n    server "); n != 3 {
		t.Errorf("%d server lines, want 3:\n%s", n, out)
	}
	checkWithHAProxy(t, res.Output)
}

func TestBuiltinGatewayBadSource(t *testing.T) {
	text, _ := templates.Get("gateway")
	tmpl, err := Parse("builtin:gateway", text, Options{Params: map[string]string{"source": "etcd", "service": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.Execute(mapRecaller{}); err == nil || !strings.Contains(err.Error(), `param source "etcd": want consul or serf`) {
		t.Errorf("err = %v", err)
	}
}
