package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
)

// routeBackend is one instance of a service that answers "ID PATH", so
// that a test sees which instance a request reached, and with which path.
type routeBackend struct {
	id   string
	port int
	reg  *api.AgentServiceRegistration
	c    *testenv.Consul
}

func startRouteBackend(t *testing.T, c *testenv.Consul, service, id string, tags ...string) *routeBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", id, r.URL.RequestURI())
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	b := &routeBackend{id: id, port: ln.Addr().(*net.TCPAddr).Port, c: c}
	b.reg = &api.AgentServiceRegistration{ID: id, Name: service, Address: "127.0.0.1", Port: b.port,
		Check: &api.AgentServiceCheck{HTTP: "http://127.0.0.1:" + strconv.Itoa(b.port) + "/health",
			Interval: "500ms", Timeout: "1s", Status: api.HealthPassing}}
	b.register(t, tags...)
	return b
}

// register (again) with tags.
func (b *routeBackend) register(t *testing.T, tags ...string) {
	t.Helper()
	b.reg.Tags = tags
	if err := b.c.Client.Agent().ServiceRegister(b.reg); err != nil {
		t.Fatalf("register %s: %v", b.id, err)
	}
}

func (b *routeBackend) deregister(t *testing.T) {
	t.Helper()
	if err := b.c.Client.Agent().ServiceDeregister(b.id); err != nil {
		t.Fatalf("deregister %s: %v", b.id, err)
	}
}

// routeGet is the status and body of GET path through HAProxy at bind,
// with Host host ("" for the bind address).
func routeGet(bind, host, path string) (int, string) {
	req, err := http.NewRequest("GET", "http://"+bind+path, nil)
	if err != nil {
		return 0, err.Error()
	}
	if host != "" {
		req.Host = host
	}
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// routesSetup writes a harender.hcl that renders the routes template into
// DIR/haproxy.cfg and DIR/routes.map, harender starting HAProxy bin.
func routesSetup(t *testing.T, consulAddr, bin string) gatewaySetup {
	t.Helper()
	dir := t.TempDir()
	s := gatewaySetup{dir: dir, config: filepath.Join(dir, "harender.hcl"), haproxyCfg: filepath.Join(dir, "haproxy.cfg"),
		master: filepath.Join(dir, "master.sock"), runtime: filepath.Join(dir, "admin.sock"),
		bind: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
	writeFile(t, s.config, fmt.Sprintf(`
consul {
  address = %q
  retry {
    backoff     = "50ms"
    max_backoff = "500ms"
  }
}
wait {
  min = "50ms"
  max = "200ms"
}
template {
  builtin     = "routes"
  params      = { bind = %q, map = %q, check_path = "/health" }
  destination = "haproxy.cfg"
}
template {
  builtin     = "routes"
  params      = { output = "map" }
  destination = "routes.map"
}
haproxy {
  binary              = %q
  config              = "haproxy.cfg"
  master_socket       = "master.sock"
  runtime_socket      = "admin.sock"
  server_state_file   = "server-state"
  min_reload_interval = "1s"
  reconcile_interval  = "1s"
  start               = true
}
`, consulAddr, s.bind, filepath.Join(dir, "routes.map"), bin))
	return s
}

// wrkRoutes is a wrk script that cycles through the routes that stay
// throughout: a path route, a path route with strip=, a host route. Each
// names its Host: wrk adds none to requests made before its init.
const wrkRoutes = `
local reqs = {
  wrk.format("GET", "/a/x", {["Host"] = "localhost"}),
  wrk.format("GET", "/b/y", {["Host"] = "localhost"}),
  wrk.format("GET", "/z", {["Host"] = "api.test"}),
}
local i = 0
request = function()
  i = i + 1
  return reqs[(i % #reqs) + 1]
end
`

// TestRunRoutesFromTags: the routes template under wrk load on every
// HAProxy. Path routes, a host route and strip= answer as tagged; a route
// added and removed, an instance added and removed, and a conflict all
// reach HAProxy with no reload (show proc's counter) and no failed
// request; a new service reloads exactly once, or not at all on 3.4.
func TestRunRoutesFromTags(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul := testenv.StartConsul(t)
		a1 := startRouteBackend(t, consul, "svc-a", "a-1", "urlprefix-/a", "urlprefix-api.test/")
		b1 := startRouteBackend(t, consul, "svc-b", "b-1", "urlprefix-/b strip=/b")
		consul.WaitPassing(t, "svc-a", 1)
		consul.WaitPassing(t, "svc-b", 1)
		s := routesSetup(t, consul.Addr, bin)
		r := startRun(t, s.config)
		r.waitHealthy(t)
		master := &haproxy.Master{Path: s.master}
		reloads := func() int {
			p, err := master.ShowProc(t.Context())
			if err != nil {
				t.Fatalf("show proc: %v", err)
			}
			return p.Master.Reloads
		}
		answers := func(host, path, want string) func() bool {
			return func() bool {
				code, body := routeGet(s.bind, host, path)
				return code == http.StatusOK && body == want
			}
		}
		waitFor(t, r, "the routes to answer", answers("", "/a/x", "a-1 /a/x"))
		for _, c := range []struct{ host, path, want string }{
			{"", "/a/x?q=1", "a-1 /a/x?q=1"},      // path route, path kept
			{"", "/b/y/z", "b-1 /y/z"},            // strip=/b
			{"", "/b", "b-1 /"},                   // strip= of the whole path
			{"", "/bb", "b-1 /bb"},                // the prefix inside a segment: not stripped
			{"API.test:8080", "/b/y", "a-1 /b/y"}, // the host route first, port and case aside
		} {
			if code, body := routeGet(s.bind, c.host, c.path); code != 200 || body != c.want {
				t.Errorf("GET %s%s = %d %q, want %q", c.host, c.path, code, body, c.want)
			}
		}
		if code, body := routeGet(s.bind, "", "/nowhere"); code != http.StatusNotFound {
			t.Errorf("GET /nowhere = %d %q, want 404", code, body)
		}

		script := filepath.Join(s.dir, "routes.lua")
		if err := os.WriteFile(script, []byte(wrkRoutes), 0o644); err != nil {
			t.Fatal(err)
		}
		before := reloads()
		// Long enough for the steps on a loaded machine; stopped after them
		// (timeouts at 10s: testenv.StartWrk).
		wrk := testenv.StartWrk(t, "-t2", "-c16", "-d300s", "--latency", "-s", script, "http://"+s.bind)
		time.Sleep(time.Second)
		var took []string
		// step changes Consul, then waits until HAProxy answers as done says.
		step := func(what string, act func(), done func() bool) {
			t.Helper()
			start := time.Now()
			act()
			waitWithin(t, r, what, 20*time.Second, done)
			took = append(took, fmt.Sprintf("%s: %s", what, time.Since(start).Round(10*time.Millisecond)))
			time.Sleep(500 * time.Millisecond)
		}
		notFound := func(path string) func() bool {
			return func() bool { code, _ := routeGet(s.bind, "", path); return code == http.StatusNotFound }
		}

		step("route /extra added", func() { a1.register(t, "urlprefix-/a", "urlprefix-api.test/", "urlprefix-/extra strip=/extra") },
			answers("", "/extra/q", "a-1 /q"))
		step("route /extra removed", func() { a1.register(t, "urlprefix-/a", "urlprefix-api.test/") }, notFound("/extra/q"))
		var a2 *routeBackend
		step("instance a-2 added", func() { a2 = startRouteBackend(t, consul, "svc-a", "a-2", "urlprefix-/a", "urlprefix-api.test/") },
			func() bool { _, body := routeGet(s.bind, "", "/a/n"); return body == "a-2 /a/n" })
		step("instance a-2 removed", func() { a2.deregister(t) }, func() bool {
			for range 4 {
				if _, body := routeGet(s.bind, "", "/a/n"); body != "a-1 /a/n" {
					return false
				}
			}
			return true
		})
		// svc-b claims /a too: svc-a keeps it (its name sorts first).
		step("conflict on /a", func() { b1.register(t, "urlprefix-/b strip=/b", "urlprefix-/a") },
			func() bool { return r.metric(t, "harender_route_conflicts") == 1 })
		if code, body := routeGet(s.bind, "", "/a/x"); body != "a-1 /a/x" {
			t.Errorf("with the conflict, GET /a/x = %d %q, want svc-a", code, body)
		}
		// A route changed by hand at runtime: the reconcile sets it back.
		step("map edited by hand", func() {
			rt := &haproxy.Runtime{Path: s.runtime}
			if _, err := rt.Command(t.Context(), "set map "+filepath.Join(s.dir, "routes.map")+" /a svc-b|0|/"); err != nil {
				t.Fatal(err)
			}
			// The reconcile (every 1s) may set it back before this GET:
			// then it counts the repair.
			if _, body := routeGet(s.bind, "", "/a/x"); body != "b-1 /a/x" {
				repaired := func() bool { return r.metric(t, `harender_drift_repaired_total{kind="maps"}`) == 1 }
				for end := time.Now().Add(2 * time.Second); !repaired() && time.Now().Before(end); {
					time.Sleep(20 * time.Millisecond)
				}
				if !repaired() {
					t.Fatalf("set map by hand had no effect: %q, and no repair was counted", body)
				}
			}
		}, answers("", "/a/x", "a-1 /a/x"))
		if got := r.metric(t, `harender_drift_repaired_total{kind="maps"}`); got != 1 {
			t.Errorf("drift repaired (maps) = %v, want 1", got)
		}
		if got := reloads(); got != before {
			t.Errorf("routes and instances changed with %d reloads, want none", got-before)
		}

		// A new service is a new backend: one reload, none where HAProxy
		// adds backends at runtime (3.4).
		step("service svc-c added", func() { startRouteBackend(t, consul, "svc-c", "c-1", "urlprefix-/c") },
			answers("", "/c/1", "c-1 /c/1"))
		time.Sleep(1500 * time.Millisecond) // a second reload would come after min_reload_interval
		want := 1
		if testenv.HAProxyHas(t, bin, haproxy.FeatureRuntimeBackends) {
			want = 0
		}
		if got := reloads() - before; got != want {
			t.Errorf("a new service took %d reloads, want %d", got, want)
		}
		res, err := wrk.Stop(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s", testenv.HAProxyVersion(bin), strings.Join(took, "; "))
		t.Logf("wrk: %s", res)
		if res.Failed() > 0 || res.Requests == 0 {
			t.Errorf("under load: %d of %d requests failed\n%s", res.Failed(), res.Requests, res.Output)
		}
		if !strings.Contains(r.Logs(), "route conflict") {
			t.Errorf("the conflict was not logged")
		}
	})
}
