package renderer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/harender/harender/internal/testbin"
	"github.com/harender/harender/templates"
	"github.com/harender/harender/watch"
)

func TestParseRouteTag(t *testing.T) {
	cases := []struct {
		tag  string
		want tagRoute
		err  string // "" ok; "-" not a route tag; else a substring of the error
	}{
		{"urlprefix-/a", tagRoute{Path: "/a"}, ""},
		{"  urlprefix-  /a/b  ", tagRoute{Path: "/a/b"}, ""},
		{"urlprefix-/", tagRoute{Path: "/"}, ""},
		{"urlprefix-API.Example.org/", tagRoute{Host: "api.example.org", Path: "/"}, ""},
		{"urlprefix-api.example.org/v1/x", tagRoute{Host: "api.example.org", Path: "/v1/x"}, ""},
		{"urlprefix-/foo/bar strip=/foo", tagRoute{Path: "/foo/bar", Strip: "/foo", Depth: 1}, ""},
		{"urlprefix-/foo strip=/foo/", tagRoute{Path: "/foo", Strip: "/foo", Depth: 1}, ""},
		{"urlprefix-/a strip=/a/b/c proto=http", tagRoute{Path: "/a", Strip: "/a/b/c", Depth: 3}, ""},
		{"urlprefix-/a strip=/", tagRoute{Path: "/a"}, ""},
		{"urlprefix-/a/%20~!$&()*+,=:@-._", tagRoute{Path: "/a/%20~!$&()*+,=:@-._"}, ""},
		{"other", tagRoute{}, "-"},
		{"urlprefix", tagRoute{}, "-"},
		{"urlprefix-", tagRoute{}, "no route"},
		{"urlprefix-:3306 proto=tcp", tagRoute{}, "TCP routes"},
		{"urlprefix-example.org", tagRoute{}, "no '/'"},
		{"urlprefix-*.example.org/", tagRoute{}, "glob"},
		{"urlprefix-example.org:8080/", tagRoute{}, "port"},
		{"urlprefix-ex_ample.org/", tagRoute{}, "not a DNS name"},
		{"urlprefix-/a;b", tagRoute{}, "characters"},
		{"urlprefix-/a'b", tagRoute{}, "characters"},
		{"urlprefix-/a#b", tagRoute{}, "characters"},
		{"urlprefix-/a\\b", tagRoute{}, "characters"},
		{"urlprefix-/a\x00b", tagRoute{}, "characters"},
		{"urlprefix-/a\nevil be|0|/", tagRoute{}, "not supported"},
		{"urlprefix-/a|b", tagRoute{}, "characters"},
		{"urlprefix-/a proto=https", tagRoute{}, `option "proto=https" is not supported`},
		{"urlprefix-/a proto=https tlsskipverify=true", tagRoute{}, "not supported"},
		{"urlprefix-/a redirect=301,https://x/", tagRoute{}, "not supported"},
		{"urlprefix-/a weight=0.5", tagRoute{}, "not supported"},
		{"urlprefix-/a host=dst", tagRoute{}, "not supported"},
		{"urlprefix-/a strip=/a strip=/b", tagRoute{}, "twice"},
		{"urlprefix-/a strip=a", tagRoute{}, "strip"},
		{"urlprefix-/a strip=/a//b", tagRoute{}, "empty path segment"},
		{"urlprefix-/a strip=/1/2/3/4/5/6/7/8/9", tagRoute{}, "more than 8"},
		{"urlprefix-/" + strings.Repeat("a", maxRoutePath), tagRoute{}, "longer than"},
	}
	for _, c := range cases {
		got, err := parseRouteTag(c.tag, "urlprefix-")
		switch {
		case c.err == "-":
			if !errors.Is(err, errNotRoute) {
				t.Errorf("%q: %v, want not a route", c.tag, err)
			}
		case c.err == "":
			if err != nil || got != c.want {
				t.Errorf("%q = %+v, %v; want %+v", c.tag, got, err, c.want)
			}
		case err == nil || !strings.Contains(err.Error(), c.err):
			t.Errorf("%q: error %v, want one with %q", c.tag, err, c.err)
		}
	}
}

// inst is a passing instance of svc.
func inst(svc, id, addr string, port int, tags ...string) *watch.HealthService {
	return &watch.HealthService{Node: "n1", Name: svc, ID: id, Address: addr, Port: port, Tags: tags, Status: "passing"}
}

func TestURLPrefixRoutes(t *testing.T) {
	lists := []any{
		[]*watch.HealthService{inst("web", "web-1", "10.0.0.1", 80, "urlprefix-/a", "v1"), inst("web", "web-2", "10.0.0.2", 80, "urlprefix-/a", "urlprefix-/shared")},
		[]*watch.HealthService{inst("api", "api-1", "10.0.1.1", 8080, "urlprefix-/b strip=/b", "urlprefix-api.example.org/", "urlprefix-/shared", "urlprefix-/x proto=https")},
		[]*watch.HealthService{inst("img", "img 1", "not-an-ip", 80, "urlprefix-/img"), inst("img", "img/2", "::1", 8081, "urlprefix-/img/big")},
		[]*watch.HealthService{inst("dup", "d1", "10.0.2.1", 80, "urlprefix-/d strip=/d"), inst("dup", "d2", "10.0.2.2", 80, "urlprefix-/d")},
	}
	catalog := []*watch.CatalogSnippet{{Name: "web", Tags: []string{"urlprefix-/a"}}, {Name: "bad.name", Tags: []string{"urlprefix-/z"}}, {Name: "plain"}}
	tb, err := fnURLPrefixRoutes("urlprefix-", catalog, lists)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range tb.Routes {
		got = append(got, r.Key+" "+r.Value)
	}
	want := []string{
		"api.example.org/ api|0|/",
		"/img/big img|0|/",
		"/shared api|0|/",
		"/img img|0|/",
		"/a web|0|/",
		"/b api|1|/b",
		"/d dup|0|/",
	}
	if !slices.Equal(got, want) {
		t.Errorf("routes\n got %q\nwant %q", got, want)
	}
	var backends []string
	for _, b := range tb.Backends {
		var s []string
		for _, sv := range b.Servers {
			s = append(s, sv.Name)
		}
		backends = append(backends, b.Name+":"+strings.Join(s, ","))
	}
	if want := []string{"api:api-1", "dup:d1,d2", "img:img_2", "web:web-1,web-2"}; !slices.Equal(backends, want) {
		t.Errorf("backends %q, want %q", backends, want)
	}
	if len(tb.Conflicts) != 1 || tb.Conflicts[0].Key != "/shared" || tb.Conflicts[0].Winner != "api" ||
		!strings.Contains(tb.Conflicts[0].String(), `services "api", "web"; "api" wins`) {
		t.Errorf("conflicts %+v", tb.Conflicts)
	}
	var ignored []string
	for _, i := range tb.Ignored {
		ignored = append(ignored, i.String())
	}
	for _, want := range []string{`service "bad.name": the service name`, `service "api", tag "urlprefix-/x proto=https": option`,
		`service "dup", tag "urlprefix-/d strip=/d": route "/d" is already set, with other options, by tag "urlprefix-/d"`} {
		if !slices.ContainsFunc(ignored, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("ignored %q: no line beginning %q", ignored, want)
		}
	}
	if img := tb.Backends[2]; len(img.Skipped) != 1 || !strings.Contains(img.Skipped[0], `"not-an-ip" is not an IP address`) {
		t.Errorf("img skipped %q", img.Skipped)
	}
	// The same instances in another order give the same table.
	slices.Reverse(lists)
	again, _ := fnURLPrefixRoutes("urlprefix-", catalog, lists)
	if again.Routes[0] != tb.Routes[0] || len(again.Routes) != len(tb.Routes) || again.Conflicts[0].Winner != "api" {
		t.Errorf("order changed the table: %+v", again.Routes)
	}
	if got := fnURLPrefixServices("urlprefix-", catalog); !slices.Equal(got, []string{"web"}) {
		t.Errorf("urlprefixServices = %q", got)
	}
}

// routesData is a catalog and the passing instances of its services.
func routesData(t testing.TB, services map[string][]*watch.HealthService) mapRecaller {
	m := mapRecaller{}
	var catalog []*watch.CatalogSnippet
	for _, name := range sortedKeys(services) {
		var tags []string
		for _, in := range services[name] {
			tags = append(tags, in.Tags...)
		}
		catalog = append(catalog, &watch.CatalogSnippet{Name: name, Tags: tags})
		d, err := watch.NewHealthServiceQuery(name)
		if err != nil {
			t.Fatal(err)
		}
		m[d.String()] = services[name]
	}
	d, err := watch.NewCatalogServicesQuery("")
	if err != nil {
		t.Fatal(err)
	}
	m[d.String()] = catalog
	return m
}

// TestBuiltinRoutesGolden renders both outputs of the routes template and
// has every HAProxy under test check the config with its map.
func TestBuiltinRoutesGolden(t *testing.T) {
	text, err := templates.Get("routes")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mapPath := filepath.Join(dir, "routes.map")
	data := routesData(t, map[string][]*watch.HealthService{
		"web":    {inst("web", "web-1", "10.0.0.1", 80, "urlprefix-/a"), inst("web", "web-2", "10.0.0.2", 80, "urlprefix-/shared")},
		"api":    {inst("api", "api-1", "10.0.1.1", 8080, "urlprefix-/b strip=/b", "urlprefix-api.example.org/", "urlprefix-/shared")},
		"routes": {inst("routes", "r1", "fe80::1", 9000, "urlprefix-/r strip=/r/s/t", "urlprefix-/bad\"quote")},
	})
	outs := map[string][]byte{}
	for _, output := range []string{"config", "map"} {
		params := map[string]string{"output": output, "map": mapPath, "bind": "127.0.0.1:9999",
			"runtime_socket": "/run/haproxy/admin.sock", "check_path": "/health"}
		tmpl, err := Parse("routes", text, Options{Params: params})
		if err != nil {
			t.Fatal(err)
		}
		res, err := tmpl.Execute(data)
		if err != nil || len(res.Missing) > 0 {
			t.Fatalf("%s: %v, missing %v", output, err, res.Missing)
		}
		out := strings.ReplaceAll(string(res.Output), mapPath, "/etc/haproxy/routes.map")
		golden := filepath.Join("testdata", "routes-"+output+".golden")
		if *update {
			os.WriteFile(golden, []byte(out), 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if out != string(want) {
			d, _ := Diff(golden, []byte(out))
			t.Errorf("%s differs from %s (-update to accept):\n%s", output, golden, d)
		}
		outs[output] = res.Output
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	os.WriteFile(mapPath, outs["map"], 0o644)
	os.WriteFile(cfg, []byte(strings.ReplaceAll(string(outs["config"]), "/run/haproxy/admin.sock", filepath.Join(dir, "admin.sock"))), 0o644)
	testbin.ForEachHAProxy(t, func(t *testing.T, bin string) {
		if out, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
			t.Fatalf("haproxy -c: %v\n%s", err, out)
		}
	})
}

// FuzzParseRouteTag: any tag parses without panic; a route it accepts has
// a key and value made only of characters the HAProxy CLI and map files
// carry as they are, and written back as a tag it parses the same.
func FuzzParseRouteTag(f *testing.F) {
	for _, s := range []string{"urlprefix-/a", "urlprefix-Host.example/p strip=/p", "urlprefix-/a strip=/a/b/ proto=http",
		"urlprefix-:3306 proto=tcp", "urlprefix-/a\nb", "urlprefix-/a strip=//", "urlprefix- /x  strip=/x  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		r, err := parseRouteTag(tag, "urlprefix-")
		if err != nil {
			return
		}
		for _, s := range []string{r.key(), r.Strip} {
			if strings.ContainsAny(s, " \t\r\n;'\"\\#|") || strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c >= 0x7f }) {
				t.Fatalf("%q: unsafe %q", tag, s)
			}
		}
		if !strings.HasPrefix(r.Path, "/") || (r.Host != "" && !routeHost.MatchString(r.Host)) {
			t.Fatalf("%q: host %q path %q", tag, r.Host, r.Path)
		}
		if r.Depth > maxStripDepth || r.Depth != strings.Count(r.Strip, "/") || strings.HasSuffix(r.Strip, "/") {
			t.Fatalf("%q: strip %q depth %d", tag, r.Strip, r.Depth)
		}
		back := "urlprefix-" + r.key()
		if r.Strip != "" {
			back += " strip=" + r.Strip
		}
		if again, err := parseRouteTag(back, "urlprefix-"); err != nil || again != r {
			t.Fatalf("%q -> %q -> %+v, %v; want %+v", tag, back, again, err, r)
		}
	})
}

func TestURLPrefixRoutesBoundsIgnored(t *testing.T) {
	var tags []string
	for i := range 500 {
		tags = append(tags, fmt.Sprintf("urlprefix-/x%d proto=tcp", i))
	}
	tb, err := fnURLPrefixRoutes("urlprefix-", nil, []*watch.HealthService{inst("s", "s1", "10.0.0.1", 80, tags...)})
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Ignored) != maxIgnored+1 || tb.Ignored[maxIgnored].String() != "and 400 more tags or services ignored" {
		t.Fatalf("%d ignored, last %q", len(tb.Ignored), tb.Ignored[len(tb.Ignored)-1])
	}
	if len(tb.Routes) != 0 || len(tb.Backends) != 0 {
		t.Fatalf("routes %v backends %v", tb.Routes, tb.Backends)
	}
}
