package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/pmezard/go-difflib/difflib"

	"github.com/harender/harender/internal/testenv"
)

// TestConsulTemplateCompat renders every template of testdata/compat, and
// those of compatHostCases, with consul-template v0.42.1 and with
// harender, against the same Consul catalog and KV store and in the same
// environment, and requires identical bytes, and identical files from
// writeToFile.
//
// consul-template comes from $CONSUL_TEMPLATE_BIN or bin/consul-template
// (make consul-template builds it). Locally a missing binary skips the
// test; under CI=true it fails it. Set COMPAT_KEEP=DIR to keep both outputs
// of every template in DIR (as NAME.ct and NAME.harender, and the listings
// of the files writeToFile wrote as NAME.ct.files and NAME.harender.files).
func TestConsulTemplateCompat(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Consul agent and consul-template")
	}
	ct := testenv.Require(t, "consul-template v0.42.1",
		os.Getenv("CONSUL_TEMPLATE_BIN"), filepath.Join(testenv.RepoBin(), "consul-template"))
	templates, err := filepath.Glob(filepath.Join("..", "..", "testdata", "compat", "*.tmpl"))
	if err != nil || len(templates) == 0 {
		t.Fatalf("no templates in testdata/compat (%v)", err)
	}
	sort.Strings(templates)
	keep := os.Getenv("COMPAT_KEEP")
	if keep != "" {
		if err := os.MkdirAll(keep, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// Read by env, mustEnv and envOrDefault in the corpus; consul-template
	// inherits the environment, harender runs in this process.
	t.Setenv("COMPAT_TEST_VAR", "compat value with spaces")
	t.Setenv("COMPAT_TEST_EMPTY_VAR", "")
	fileData, err := filepath.Abs("../../testdata/compat/file-data.txt")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("COMPAT_FILE", fileData) // read by file in 20-file.tmpl
	// The owner and group 22-writeToFile gives its files.
	t.Setenv("COMPAT_UID", strconv.Itoa(os.Getuid()))
	t.Setenv("COMPAT_GID", strconv.Itoa(os.Getgid()))
	os.Unsetenv("COMPAT_TEST_UNSET_VAR")

	consul := testenv.StartConsul(t)
	seedCompatCatalog(t, consul)

	for _, src := range templates {
		name := strings.TrimSuffix(filepath.Base(src), ".tmpl")
		t.Run(name, func(t *testing.T) {
			compareWithConsulTemplate(t, ct, consul.Addr, src, keep, nil)
		})
	}
	// Templates that reach this host: sockaddr reads its interfaces,
	// writeToFile writes files, compared too. Each tool runs in turn with
	// the same environment, COMPAT_WRITE_DIR included, the directory laid
	// anew before each.
	for _, c := range compatHostCases() {
		t.Run(c.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), c.name+".tmpl")
			if err := os.WriteFile(src, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			files := &compatFiles{dir: filepath.Join(t.TempDir(), "written"), before: c.before}
			t.Setenv("COMPAT_WRITE_DIR", files.dir)
			compareWithConsulTemplate(t, ct, consul.Addr, src, keep, files)
		})
	}
}

// compareWithConsulTemplate renders src with consul-template and with
// harender and requires the same bytes, and, when files is not nil, the
// same files written beside the output.
func compareWithConsulTemplate(t *testing.T, ct, consulAddr, src, keep string, files *compatFiles) {
	t.Helper()
	name := strings.TrimSuffix(filepath.Base(src), ".tmpl")
	abs, err := filepath.Abs(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctOut := filepath.Join(dir, name+".ct")
	hrOut := filepath.Join(dir, name+".harender")

	files.lay(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ct, "-once",
		"-consul-addr", consulAddr,
		"-max-stale=0s", "-vault-renew-token=false",
		"-log-level=err",
		"-template", abs+":"+ctOut)
	cmd.Dir = dir
	var ctLog bytes.Buffer
	cmd.Stdout, cmd.Stderr = &ctLog, &ctLog
	if err := cmd.Run(); err != nil {
		t.Fatalf("consul-template failed (%v), so the template is not valid for it:\n%s", err, ctLog.String())
	}
	want, err := os.ReadFile(ctOut)
	if err != nil {
		t.Fatal(err)
	}
	ctFiles := files.list(t)

	files.lay(t)
	code, _, stderr := harender(t, "render",
		"--template", abs+":"+hrOut,
		"--consul-addr", consulAddr,
		"--timeout", "30s", "--log-level", "error")
	if keep != "" {
		os.WriteFile(filepath.Join(keep, name+".ct"), want, 0o644)
	}
	if code != exitOK {
		t.Fatalf("harender render: exit %d where consul-template rendered %d bytes\n%s", code, len(want), stderr)
	}
	got, err := os.ReadFile(hrOut)
	if err != nil {
		t.Fatal(err)
	}
	hrFiles := files.list(t)
	if keep != "" {
		os.WriteFile(filepath.Join(keep, name+".harender"), got, 0o644)
		if files != nil {
			os.WriteFile(filepath.Join(keep, name+".ct.files"), []byte(ctFiles), 0o644)
			os.WriteFile(filepath.Join(keep, name+".harender.files"), []byte(hrFiles), 0o644)
		}
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s: harender's %d bytes differ from consul-template's %d:\n%s", filepath.Base(src), len(got), len(want), compatDiff(string(want), string(got)))
	}
	if ctFiles != hrFiles {
		t.Errorf("%s: the files harender wrote differ from consul-template's:\n%s", filepath.Base(src), compatDiff(ctFiles, hrFiles))
	}
}

func compatDiff(want, got string) string {
	diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(want), B: difflib.SplitLines(got),
		FromFile: "consul-template", ToFile: "harender", Context: 2,
	})
	return diff
}

// seedCompatCatalog registers the catalog and KV data the corpus reads:
// external nodes with meta and tagged addresses, services with tags, meta,
// weights and checks in every state (set directly, so nothing flaps), two
// agent services with TTL checks (one failing, one in maintenance), and a
// KV tree. It returns when the agent's state has reached the catalog.
func seedCompatCatalog(t *testing.T, c *testenv.Consul) {
	t.Helper()
	cat := c.Client.Catalog()
	type svc struct {
		node, id, name, addr string
		port                 int
		tags                 []string
		meta                 map[string]string
		weights              *api.AgentWeights
		status, output       string
	}
	nodes := []struct {
		name, addr, wan string
		meta            map[string]string
	}{
		{"app-1", "10.0.1.11", "203.0.113.11", map[string]string{"rack": "r1", "zone": "eu-west-1a", "role": "app"}},
		{"app-2", "10.0.1.12", "203.0.113.12", map[string]string{"rack": "r2", "zone": "eu-west-1b", "role": "app"}},
		{"app-10", "10.0.1.20", "", map[string]string{"rack": "r1", "zone": "eu-west-1a", "role": "app", "empty": ""}},
		{"db-1", "10.0.2.11", "", map[string]string{"role": "db"}},
		{"edge-1", "10.0.0.5", "198.51.100.5", map[string]string{"role": "lb", "zone": "eu-west-1a"}},
	}
	services := []svc{
		{"app-1", "web-1", "web", "", 8080, []string{"v2", "http", "primary"},
			map[string]string{"version": "2.1.0", "weight": "10", "env": "prod"}, nil, api.HealthPassing, "HTTP GET /health: 200 OK"},
		{"app-2", "web-2", "web", "10.0.1.12", 8080, []string{"http", "v1"},
			map[string]string{"version": "1.9.3", "weight": "5", "env": "prod"}, nil, api.HealthPassing, "HTTP GET /health: 200 OK"},
		{"app-10", "web-3", "web", "10.0.1.20", 8081, []string{"http", "v2", "canary"},
			map[string]string{"version": "2.2.0-rc1", "env": "staging"}, nil, api.HealthWarning, "slow: 950ms"},
		{"app-1", "api-1", "api", "10.0.1.11", 9090, []string{"grpc", "http", "traefik.enable=true"},
			map[string]string{"proto": "h2", "maxconn": "200", "team": "payments"}, &api.AgentWeights{Passing: 3, Warning: 1}, api.HealthPassing, "ok"},
		{"app-2", "api-2", "api", "10.0.1.12", 9090, []string{"grpc"},
			map[string]string{"proto": "h2", "maxconn": "150"}, nil, api.HealthWarning, "degraded"},
		{"app-10", "api-3", "api", "", 9091, []string{"grpc", "http"},
			map[string]string{"proto": "h1"}, nil, api.HealthCritical, "connection refused"},
		{"db-1", "cache-1", "cache", "10.0.2.11", 6379, []string{"redis", "primary"}, nil, nil, api.HealthPassing, "PONG"},
		{"db-1", "db-1", "db", "10.0.2.11", 5432, []string{"primary", "postgres"},
			map[string]string{"version": "15"}, nil, api.HealthPassing, "accepting connections"},
		{"app-2", "db-replica", "db", "10.0.1.12", 5432, []string{"replica", "postgres"},
			map[string]string{"version": "15"}, nil, api.HealthPassing, "accepting connections"},
		{"edge-1", "legacy-1", "legacy", "10.0.0.5", 80, nil, nil, nil, api.HealthCritical, "timeout"},
		{"edge-1", "admin-ui", "admin-ui", "10.0.0.5", 3000, []string{"internal", "http"},
			map[string]string{"owner": "ops"}, nil, api.HealthPassing, "ok"},
		// Several instances on one node (ID order "web-10" < "web-9"),
		// duplicate and mixed-case tags, odd meta values.
		{"app-2", "web-9", "web", "10.0.1.12", 8089, []string{"http", "http", "Zeta", "alpha", "v1"},
			map[string]string{"version": "1.9.3", "Owner": "Team A", "path": "/a b?c=d&e", "weight": "0"}, nil, api.HealthPassing, "ok"},
		{"app-2", "web-10", "web", "10.0.1.12", 8090, []string{"http", "v2", "ünïcode"},
			map[string]string{"version": "2.1.0", "weight": "7"}, &api.AgentWeights{Passing: 7, Warning: 2}, api.HealthPassing, "ok"},
	}
	for _, n := range nodes {
		tagged := map[string]string{"lan": n.addr}
		if n.wan != "" {
			tagged["wan"] = n.wan
		}
		_, err := cat.Register(&api.CatalogRegistration{
			Node: n.name, Address: n.addr, Datacenter: "dc1", TaggedAddresses: tagged, NodeMeta: n.meta,
			Check: &api.AgentCheck{Node: n.name, CheckID: "node-health", Name: "Node health", Status: api.HealthPassing, Output: "node ok"},
		}, nil)
		if err != nil {
			t.Fatalf("register node %s: %v", n.name, err)
		}
	}
	for _, s := range services {
		var addr string
		for _, n := range nodes {
			if n.name == s.node {
				addr = n.addr
			}
		}
		reg := &api.CatalogRegistration{
			Node: s.node, Address: addr, Datacenter: "dc1", SkipNodeUpdate: true,
			Service: &api.AgentService{ID: s.id, Service: s.name, Address: s.addr, Port: s.port, Tags: s.tags, Meta: s.meta},
			Check: &api.AgentCheck{Node: s.node, CheckID: "service:" + s.id, Name: "Service '" + s.name + "' check",
				Status: s.status, Output: s.output, ServiceID: s.id, ServiceName: s.name},
		}
		if s.weights != nil {
			reg.Service.Weights = *s.weights
		}
		switch s.id {
		case "web-1":
			reg.Service.TaggedAddresses = map[string]api.ServiceAddress{
				"lan": {Address: "10.0.1.11", Port: 8080}, "wan": {Address: "203.0.113.11", Port: 80}}
		case "db-1":
			reg.Service.EnableTagOverride = true
		}
		if _, err := cat.Register(reg, nil); err != nil {
			t.Fatalf("register service %s: %v", s.id, err)
		}
	}

	// Agent services on the dev agent's own node, with TTL checks whose
	// status changes (changes sync to the catalog at once; output-only
	// updates could wait for the next anti-entropy run).
	agent := c.Client.Agent()
	for _, r := range []*api.AgentServiceRegistration{
		{ID: "web-4", Name: "web", Port: 9004, Address: "127.0.0.1", Tags: []string{"http", "v1"},
			Meta:  map[string]string{"version": "1.8.0", "env": "prod"},
			Check: &api.AgentServiceCheck{CheckID: "web-4-ttl", Name: "web-4 ttl", TTL: "30m", Status: api.HealthPassing}},
		{ID: "cache-2", Name: "cache", Port: 6380, Tags: []string{"redis", "replica"},
			Check: &api.AgentServiceCheck{CheckID: "cache-2-ttl", Name: "cache-2 ttl", TTL: "30m", Status: api.HealthCritical}},
	} {
		if err := agent.ServiceRegister(r); err != nil {
			t.Fatalf("register agent service %s: %v", r.ID, err)
		}
	}
	if err := agent.UpdateTTL("web-4-ttl", "connection refused", api.HealthCritical); err != nil {
		t.Fatal(err)
	}
	if err := agent.UpdateTTL("cache-2-ttl", "PONG", api.HealthPassing); err != nil {
		t.Fatal(err)
	}
	if err := agent.EnableServiceMaintenance("cache-2", "rolling upgrade"); err != nil {
		t.Fatal(err)
	}

	kv := c.Client.KV()
	features := `{"beta": true, "ratio": 0.25, "limits": {"rps": 100, "burst": 1.5e3, "tiny": 1e-7, "huge": 1e21, "neg": -0},` +
		` "list": [1, 2.5, "three", null, false], "name": "app \u003cx\u003e & co", "nested": {"a": {"b": {"c": "deep"}}},` +
		` "empty": {}, "emptyList": [], "int64": 9007199254740993}`
	pairs := []*api.KVPair{
		{Key: "service/haproxy/maxconn", Value: []byte("4096")},
		{Key: "service/haproxy/timeouts/connect", Value: []byte("5s")},
		{Key: "service/haproxy/timeouts/client", Value: []byte("30s")},
		{Key: "service/haproxy/timeouts/server", Value: []byte("30s")},
		{Key: "service/haproxy/backends/web/balance", Value: []byte("roundrobin")},
		{Key: "service/haproxy/backends/api/balance", Value: []byte("leastconn")},
		{Key: "service/haproxy/backends/api/options", Value: []byte("httpchk GET /health\nhttp-reuse safe\n")},
		{Key: "service/haproxy/enabled", Value: []byte("true")},
		{Key: "service/haproxy/stats/", Value: nil},
		{Key: "config/app/features", Value: []byte(features)},
		{Key: "config/app/hosts", Value: []byte(" a.example.com, b.example.com ,c.example.com ")},
		{Key: "config/app/empty", Value: []byte("")},
		{Key: "config/app/yaml", Value: []byte("db:\n  host: db.service.consul\n  port: 5432\n  pool: 10\nreplicas:\n  - r1\n  - r2\n")},
		{Key: "config/app/folder/", Value: nil},
		{Key: "config/app/folder/nested/deep", Value: []byte("x")},
		{Key: "config/app/unicode", Value: []byte("héllo <wörld> & \"quotes\" 'single' \\back\ttab")},
		{Key: "config/app/numbers/int", Value: []byte("42")},
		{Key: "config/app/numbers/neg", Value: []byte("-17")},
		{Key: "config/app/numbers/float", Value: []byte("3.14159")},
		{Key: "config/app/numbers/octal", Value: []byte("0755")},
		{Key: "config/app/numbers/exp", Value: []byte("1e3")},
		{Key: "config/app/numbers/big", Value: []byte("9007199254740993")},
		{Key: "config/app/numbers/uint", Value: []byte("18446744073709551615")},
		{Key: "config/app/workers", Value: []byte("3")},
		{Key: "config/app/ratio", Value: []byte("0.5")},
		{Key: "config/app/flagged", Value: []byte("with flags"), Flags: 42},
		{Key: "motd", Value: []byte("Welcome to HAProxy\n")},
		{Key: "maintenance", Value: []byte("false")},
		{Key: "config/app/binary", Value: []byte{'o', 'k', 0xff, 0xfe, 0x00, '!'}},
		{Key: "config/app/crlf", Value: []byte("a\r\nb\r\n")},
		{Key: "config/app/Upper/Case", Value: []byte("mixed")},
		{Key: "config/app/numbers/0", Value: []byte("zero")},
		{Key: "config/app/numbers/10", Value: []byte("ten")},
		{Key: "config/app/numbers/9", Value: []byte("nine")},
	}
	for _, p := range pairs {
		if _, err := kv.Put(p, nil); err != nil {
			t.Fatalf("kv put %s: %v", p.Key, err)
		}
	}

	// Wait until the agent's services and check states are in the catalog.
	want := map[string]string{"web-4": api.HealthCritical, "cache-2": api.HealthMaint}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := map[string]string{}
		for _, name := range []string{"web", "cache"} {
			entries, _, err := c.Client.Health().Service(name, "", false, nil)
			if err != nil {
				continue
			}
			for _, e := range entries {
				if _, ok := want[e.Service.ID]; ok && outputsSynced(e.Checks) {
					got[e.Service.ID] = e.Checks.AggregatedStatus()
				}
			}
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent services did not settle: got %v, want %v", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// outputsSynced reports whether the TTL checks carry the outputs set above.
func outputsSynced(checks api.HealthChecks) bool {
	for _, c := range checks {
		switch c.CheckID {
		case "web-4-ttl":
			return c.Output == "connection refused"
		case "cache-2-ttl":
			return c.Output == "PONG"
		}
	}
	return false
}
