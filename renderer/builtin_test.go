package renderer

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harender/harender/templates"
	"github.com/harender/harender/watch"
)

var update = flag.Bool("update", false, "update golden files")

// mapRecaller is data keyed by dependency identity.
type mapRecaller map[string]any

func (m mapRecaller) Get(d watch.Dependency) (any, bool) {
	v, ok := m[d.String()]
	return v, ok
}

func gatewayInstances(t testing.TB, query string, n int) mapRecaller {
	d, err := watch.NewHealthServiceQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	var list []*watch.HealthService
	for i := 0; i < n; i++ {
		list = append(list, &watch.HealthService{
			Node: "node-1", Name: "gateway", ID: fmt.Sprintf("gw %d/eu", i+1),
			Address: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), Port: 8000 + i,
			Tags: watch.ServiceTags{"api"}, Status: "passing",
		})
	}
	return mapRecaller{d.String(): list}
}

func TestBuiltinGatewayGolden(t *testing.T) {
	text, err := templates.Get("gateway")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		params map[string]string
		query  string
		n      int
	}{
		{"three", map[string]string{"service": "gateway"}, "gateway", 3},
		{"tagged", map[string]string{"service": "gateway", "tag": "api", "bind": "0.0.0.0:80",
			"runtime_socket": "/run/haproxy/admin.sock", "state_file": "/var/lib/haproxy/state"}, "api.gateway", 2},
		{"empty", map[string]string{"service": "gateway"}, "gateway", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmpl, err := Parse("gateway", text, Options{Params: c.params})
			if err != nil {
				t.Fatal(err)
			}
			res, err := tmpl.Execute(gatewayInstances(t, c.query, c.n))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Missing) != 0 {
				t.Fatalf("missing %v", res.Missing)
			}
			golden := filepath.Join("testdata", "gateway-"+c.name+".golden")
			if *update {
				os.WriteFile(golden, res.Output, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Output) != string(want) {
				d, _ := Diff(golden, res.Output)
				t.Errorf("output differs from %s (run with -update to accept):\n%s", golden, d)
			}
			checkWithHAProxy(t, res.Output)
		})
	}
}

func TestBuiltinGatewayNeedsService(t *testing.T) {
	text, _ := templates.Get("gateway")
	tmpl, err := Parse("builtin:gateway", text, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmpl.Execute(mapRecaller{})
	if err == nil || !strings.Contains(err.Error(), `param "service" is not set`) {
		t.Errorf("err = %v", err)
	}
}

// checkWithHAProxy runs haproxy -c on output when HAProxy is installed.
func checkWithHAProxy(t *testing.T, output []byte) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Log("haproxy not installed; golden compared only")
		return
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	os.WriteFile(path, output, 0o644)
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Errorf("haproxy -c rejects the rendered gateway: %v\n%s", err, out)
	}
}

// system_ca: off (the default) keeps HAProxy's httpclient from loading the
// system's CA store, on leaves HAProxy's default, anything else is an error
// that names the param.
func TestBuiltinSystemCA(t *testing.T) {
	const line = "httpclient.ssl.verify none"
	for _, name := range []string{"gateway", "routes"} {
		text, _ := templates.Get(name)
		for _, c := range []struct{ value, want string }{{"", line}, {"off", line}, {"on", ""}, {"yes", `param system_ca "yes": want on or off`}} {
			params := map[string]string{"service": "gateway", "map": "/run/routes.map"}
			if c.value != "" {
				params["system_ca"] = c.value
			}
			tmpl, err := Parse(name, text, Options{Params: params})
			if err != nil {
				t.Fatal(err)
			}
			res, err := tmpl.Execute(gatewayInstances(t, "gateway", 1))
			switch {
			case strings.HasPrefix(c.want, "param"):
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s, system_ca %q: err = %v, want %q", name, c.value, err, c.want)
				}
			case err != nil:
				t.Errorf("%s, system_ca %q: %v", name, c.value, err)
			case c.want == "" && strings.Contains(string(res.Output), "httpclient."):
				t.Errorf("%s, system_ca on: output sets the httpclient:\n%s", name, res.Output)
			case c.want != "" && !strings.Contains(string(res.Output), c.want):
				t.Errorf("%s, system_ca %q: no %q in the output", name, c.value, c.want)
			}
		}
	}
}
