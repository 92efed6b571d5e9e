package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
	"github.com/hashicorp/consul/api"
)

// TestIntegration runs the queries and the Watcher against a real
// `consul agent -dev`.
func TestIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := testenv.StartConsul(t)
	c := a.Client

	register := func(id, status, addr string, port int, tags ...string) {
		t.Helper()
		err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{
			ID: id, Name: strings.Split(id, "-")[0], Tags: tags, Port: port, Address: addr,
			Meta:  map[string]string{"id": id},
			Check: &api.AgentServiceCheck{CheckID: "ttl:" + id, TTL: "1h", Status: status},
		})
		if err != nil {
			t.Fatalf("register %s: %v", id, err)
		}
	}
	register("web-1", api.HealthPassing, "", 8001, "v2", "blue", "v2")
	register("web-2", api.HealthWarning, "10.0.0.2", 8002)
	register("web-3", api.HealthCritical, "", 8003, "canary")
	register("api-1", api.HealthPassing, "", 9001, "internal")
	for k, v := range map[string]string{"app/a": "1", "app/sub/b": "2", "app/z": "last"} {
		if _, err := c.KV().Put(&api.KVPair{Key: k, Value: []byte(v)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "services in the catalog", func() error {
		entries, _, err := c.Health().Service("web", "", false, nil)
		if err != nil {
			return err
		}
		if len(entries) != 3 {
			return fmt.Errorf("%d web instances", len(entries))
		}
		return nil
	})

	fetch := func(t *testing.T, d Dependency) any {
		t.Helper()
		v, meta, err := d.Fetch(t.Context(), c, &api.QueryOptions{})
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if meta == nil {
			t.Fatalf("%s: no meta", d)
		}
		return v
	}
	ids := func(list []*HealthService) string {
		var s []string
		for _, h := range list {
			s = append(s, h.ID+"="+h.Status)
		}
		return strings.Join(s, ",")
	}
	health := func(t *testing.T, s string) []*HealthService {
		t.Helper()
		q, err := NewHealthServiceQuery(s)
		if err != nil {
			t.Fatal(err)
		}
		return fetch(t, q).([]*HealthService)
	}

	t.Run("health filters", func(t *testing.T) {
		for s, want := range map[string]string{
			"web":                 "web-1=passing",
			"web|passing":         "web-1=passing",
			"web|passing,warning": "web-1=passing,web-2=warning",
			"web|critical":        "web-3=critical",
			"web|any":             "web-1=passing,web-2=warning,web-3=critical",
			"canary.web|any":      "web-3=critical",
			"web@dc1|any":         "web-1=passing,web-2=warning,web-3=critical",
			"v2.web|passing":      "web-1=passing",
			"web|maintenance":     "",
			"api":                 "api-1=passing",
		} {
			if got := ids(health(t, s)); got != want {
				t.Errorf("%s: got %q, want %q", s, got, want)
			}
		}

		web1 := health(t, "web")[0]
		if web1.Node != a.Node || web1.Address != "127.0.0.1" || web1.NodeAddress != "127.0.0.1" ||
			web1.Port != 8001 || web1.Name != "web" || web1.ServiceMeta["id"] != "web-1" {
			t.Errorf("web-1 = %+v", web1)
		}
		if want := (ServiceTags{"blue", "v2", "v2"}); !reflect.DeepEqual(web1.Tags, want) {
			t.Errorf("tags = %q, want %q", web1.Tags, want)
		}
		if web2 := health(t, "web|warning")[0]; web2.Address != "10.0.0.2" {
			t.Errorf("web-2 address = %q", web2.Address)
		}

		if err := c.Agent().EnableServiceMaintenance("web-1", "test"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "maintenance visible", func() error {
			if got := ids(health(t, "web|maintenance")); got != "web-1=maintenance" {
				return fmt.Errorf("web|maintenance = %q", got)
			}
			if got := ids(health(t, "web")); got != "" {
				return fmt.Errorf("web = %q", got)
			}
			return nil
		})
		if err := c.Agent().DisableServiceMaintenance("web-1"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "maintenance over", func() error {
			if got := ids(health(t, "web")); got != "web-1=passing" {
				return fmt.Errorf("web = %q", got)
			}
			return nil
		})
	})

	t.Run("catalog", func(t *testing.T) {
		svcs, _ := NewCatalogServicesQuery("")
		var names []string
		for _, s := range fetch(t, svcs).([]*CatalogSnippet) {
			names = append(names, s.Name+fmt.Sprint(s.Tags))
		}
		if got, want := strings.Join(names, " "), "api[internal] consul[] web[blue canary v2]"; got != want {
			t.Errorf("services = %q, want %q", got, want)
		}

		local, _ := NewCatalogNodeQuery("")
		node := fetch(t, local).(*CatalogNode)
		if node.Node == nil || node.Node.Node != a.Node || len(node.Services) != 5 {
			t.Fatalf("local node = %+v", node)
		}
		var order []string
		for _, s := range node.Services {
			order = append(order, s.ID)
		}
		if got, want := strings.Join(order, ","), "api-1,consul,web-1,web-2,web-3"; got != want {
			t.Errorf("node services %q, want %q", got, want)
		}
		absent, _ := NewCatalogNodeQuery("nope")
		if got := fetch(t, absent).(*CatalogNode); got.Node != nil {
			t.Errorf("absent node = %+v", got)
		}

		nodes, _ := NewCatalogNodesQuery("")
		if got := fetch(t, nodes).([]*Node); len(got) != 1 || got[0].Node != a.Node || got[0].Datacenter != "dc1" {
			t.Errorf("nodes = %+v", got)
		}
		svc, _ := NewCatalogServiceQuery("web")
		if got := fetch(t, svc).([]*CatalogService); len(got) != 3 {
			t.Errorf("catalog.service(web) = %d entries", len(got))
		}
		dcs, _ := NewCatalogDatacentersQuery(true)
		if got := fetch(t, dcs).([]string); !reflect.DeepEqual(got, []string{"dc1"}) {
			t.Errorf("datacenters = %q", got)
		}
	})

	t.Run("kv", func(t *testing.T) {
		get, _ := NewKVGetQuery("app/a")
		if got := fetch(t, get); got != "1" {
			t.Errorf("kv.get(app/a) = %#v", got)
		}
		absent, _ := NewKVGetQuery("app/none")
		if got := fetch(t, absent); got != nil {
			t.Errorf("absent key = %#v", got)
		}
		list, _ := NewKVListQuery("app")
		var pairs []string
		for _, p := range fetch(t, list).([]*KeyPair) {
			pairs = append(pairs, p.Path+"|"+p.Key+"|"+p.Value)
		}
		if got, want := strings.Join(pairs, " "), "app/a|a|1 app/sub/b|sub/b|2 app/z|z|last"; got != want {
			t.Errorf("kv.list(app) = %q, want %q", got, want)
		}
		keys, _ := NewKVKeysQuery("app/")
		if got := fetch(t, keys).([]string); !reflect.DeepEqual(got, []string{"a", "sub/b", "z"}) {
			t.Errorf("kv.keys(app/) = %q", got)
		}
	})

	t.Run("same JSON as consul-template", func(t *testing.T) {
		sameAsConsulTemplate(t, a)
	})

	t.Run("watcher follows changes", func(t *testing.T) {
		w := New(c, Options{WaitTime: 30 * time.Second, MaxStale: 2 * time.Second})
		defer w.Stop()
		svc, _ := NewHealthServiceQuery("web|any")
		key, _ := NewKVGetQuery("app/a")
		key.EnableBlocking()
		deps := []Dependency{svc, key}
		w.Watch(t.Context(), deps)

		waitUntil := func(what string, ok func(Snapshot) bool) time.Duration {
			t.Helper()
			start := time.Now()
			timeout := time.After(10 * time.Second)
			for {
				if snap := w.Snapshot(); ok(snap) {
					return time.Since(start)
				}
				select {
				case <-w.Updates():
				case <-timeout:
					t.Fatalf("%s: no update within 10s", what)
				}
			}
		}
		waitUntil("first answers", func(s Snapshot) bool { return len(s.Missing(deps)) == 0 })

		if err := c.Agent().ServiceDeregister("web-3"); err != nil {
			t.Fatal(err)
		}
		d := waitUntil("deregistration", func(s Snapshot) bool {
			v, _ := s.Get(svc)
			return ids(v.([]*HealthService)) == "web-1=passing,web-2=warning"
		})
		t.Logf("deregistration seen after %v", d)

		if _, err := c.KV().Put(&api.KVPair{Key: "app/a", Value: []byte("2")}, nil); err != nil {
			t.Fatal(err)
		}
		waitUntil("kv put", func(s Snapshot) bool { v, _ := s.Get(key); return v == "2" })
	})
}

// sameAsConsulTemplate renders data with the real consul-template binary,
// each value through its toJSON, and compares with json.Marshal of what our
// queries return: same fields, same order, same types.
func sameAsConsulTemplate(t *testing.T, a *testenv.Consul) {
	bin := testenv.Require(t, "consul-template", os.Getenv("CONSUL_TEMPLATE_BIN"),
		filepath.Join(testenv.RepoBin(), "consul-template"), "consul-template")

	mk := func(d Dependency, err error) Dependency {
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	cases := []struct {
		expr string
		dep  Dependency
	}{
		{`service "web|any"`, mk(NewHealthServiceQuery("web|any"))},
		{`service "web"`, mk(NewHealthServiceQuery("web"))},
		{`service "v2.web|passing,warning"`, mk(NewHealthServiceQuery("v2.web|passing,warning"))},
		{`services`, mk(NewCatalogServicesQuery(""))},
		{`nodes`, mk(NewCatalogNodesQuery(""))},
		{`node`, mk(NewCatalogNodeQuery(""))},
		{`tree "app"`, mk(NewKVListQuery("app"))},
		{`key "app/sub/b"`, mk(NewKVGetQuery("app/sub/b"))},
		{`datacenters`, mk(NewCatalogDatacentersQuery(false))},
	}

	var tmpl, want []string
	for _, tc := range cases {
		tmpl = append(tmpl, "{{ "+tc.expr+" | toJSON }}")
		v, _, err := tc.dep.Fetch(t.Context(), a.Client, &api.QueryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, string(b))
	}

	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.tmpl"), filepath.Join(dir, "out")
	if err := os.WriteFile(in, []byte(strings.Join(tmpl, "\n---\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-once", "-log-level", "err",
		"-consul-addr", a.Addr, "-template", in+":"+out)
	cmd.Env = append(os.Environ(), "CONSUL_HTTP_TOKEN=", "CONSUL_HTTP_TOKEN_FILE=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("consul-template: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	gotParts := strings.Split(string(got), "\n---\n")
	if len(gotParts) != len(cases) {
		t.Fatalf("consul-template wrote %d parts, want %d:\n%s", len(gotParts), len(cases), got)
	}
	t.Logf("compared %d bytes of consul-template output", len(got))
	for i, tc := range cases {
		if gotParts[i] != want[i] {
			t.Errorf("%s:\nconsul-template: %s\nharender:        %s", tc.expr, gotParts[i], want[i])
		}
	}
}

// eventually retries f until it returns nil or 20s pass.
func eventually(t testing.TB, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
