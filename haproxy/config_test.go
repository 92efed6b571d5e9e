package haproxy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseConfigGateway(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "gateway.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	var headers []string
	for _, s := range c.Sections {
		headers = append(headers, s.Kind+"|"+s.Name)
	}
	want := []string{"global|", "defaults|", "defaults|tcp-defaults", "frontend|www", "backend|gateway", "listen|stats", "resolvers|dns", "peers|mesh"}
	if !slices.Equal(headers, want) {
		t.Fatalf("sections = %q, want %q", headers, want)
	}
	g := c.Find("global", "")
	if g.Line != 2 || len(g.Lines) != 3 || g.Lines[1].Text != "stats socket /run/haproxy/admin.sock level admin" || g.Lines[1].Num != 4 {
		t.Errorf("global = %+v", g)
	}
	if fe := c.Find("frontend", "www"); fe.Lines[1].Text != `http-request set-header X-Hash "a#b"` {
		t.Errorf("quoted # cut: %q", fe.Lines[1].Text)
	}
	if c.Find("listen", "stats").Header != "listen stats from tcp-defaults" {
		t.Errorf("listen header = %q", c.Find("listen", "stats").Header)
	}
	gw := c.Find("backend", "gateway")
	wantSrv := []Server{
		{Name: "gw-1", Address: "10.0.0.1:8080", Addr: "10.0.0.1", Port: 8080, Weight: 10, Rest: []string{"check"}, Line: 27},
		{Name: "gw-2", Address: "10.0.0.2:8080", Addr: "10.0.0.2", Port: 8080, Weight: -1, Disabled: true, Line: 28},
		{Name: "gw-3", Address: "[fd00::3]:8080", Addr: "fd00::3", Port: 8080, Weight: -1, Rest: []string{"cookie", "disabled"}, Line: 29},
		{Name: "gw-4", Address: "gw4.service.consul:8080", Addr: "gw4.service.consul", Port: 8080, Weight: -1, Rest: []string{"resolvers", "dns"}, Line: 30},
	}
	if len(gw.Servers) != len(wantSrv) {
		t.Fatalf("servers = %+v", gw.Servers)
	}
	for i, w := range wantSrv {
		if !equalServer(gw.Servers[i], w) {
			t.Errorf("server %d = %+v, want %+v", i, gw.Servers[i], w)
		}
	}
	if s := c.Find("listen", "stats").Servers; len(s) != 1 || s[0].Port != 0 || s[0].Addr != "127.0.0.1" {
		t.Errorf("listen servers = %+v", s)
	}
	if s := c.Find("peers", "mesh"); len(s.Servers) != 0 || len(s.Lines) != 2 {
		t.Errorf("peers servers must stay plain lines: %+v", s)
	}
}

func equalServer(a, b Server) bool {
	return a.Name == b.Name && a.Address == b.Address && a.Addr == b.Addr && a.Port == b.Port &&
		a.Weight == b.Weight && a.Disabled == b.Disabled && slices.Equal(a.Rest, b.Rest) && a.Line == b.Line
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, in, err string
	}{
		{"outside section", "# c\n  maxconn 10\nglobal\n", "line 2: \"maxconn\" outside any section"},
		{"duplicate server", "backend be\n  server s 1.1.1.1\n  server s 1.1.1.2\n", "line 3: backend be: server s already defined at line 2"},
		{"server without address", "backend be\n  server s1\n", "line 2: backend be: server line needs a name and an address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestParseConfigEmpty(t *testing.T) {
	c, err := ParseConfig([]byte("\n# only a comment\n\n"))
	if err != nil || len(c.Sections) != 0 {
		t.Fatalf("got %+v, %v", c, err)
	}
}

func TestSplitAddress(t *testing.T) {
	tests := []struct {
		in   string
		addr string
		port int
	}{
		{"10.0.0.1:80", "10.0.0.1", 80},
		{"10.0.0.1", "10.0.0.1", 0},
		{"10.0.0.1:", "10.0.0.1", 0},
		{"[::1]:443", "::1", 443},
		{"[::1]", "::1", 0},
		{"::1:443", "::1", 443},
		{"host.consul:8080", "host.consul", 8080},
		{"10.0.0.1:+1000", "10.0.0.1:+1000", 0},
		{"10.0.0.1:80-90", "10.0.0.1:80-90", 0},
		{"10.0.0.1:${PORT}", "10.0.0.1:${PORT}", 0},
		{"10.0.0.1:70000", "10.0.0.1:70000", 0},
		{"[::1]x", "[::1]x", 0},
		{"[::1", "[::1", 0},
		{"unix@/run/x.sock", "unix@/run/x.sock", 0},
	}
	for _, tt := range tests {
		addr, port := splitAddress(tt.in)
		if addr != tt.addr || port != tt.port {
			t.Errorf("splitAddress(%q) = %q, %d; want %q, %d", tt.in, addr, port, tt.addr, tt.port)
		}
	}
}

func TestSplitWordsAndComments(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`a  b	c`, []string{"a", "b", "c"}},
		{`a "b c" d`, []string{"a", `"b c"`, "d"}},
		{`a 'b "c' d`, []string{"a", `'b "c'`, "d"}},
		{`a b\ c`, []string{"a", `b\ c`}},
		{`a \`, []string{"a", `\`}},
	}
	for _, tt := range tests {
		if got := splitWords(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("splitWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	comments := map[string]string{
		"a # b":       "a ",
		`a "#" b`:     `a "#" b`,
		`a '#' b # c`: `a '#' b `,
		`a \# b`:      `a \# b`,
		"#all":        "",
	}
	for in, want := range comments {
		if got := stripComment(in); got != want {
			t.Errorf("stripComment(%q) = %q, want %q", in, got, want)
		}
	}
}
