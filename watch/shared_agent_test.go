package watch_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
	"github.com/harender/harender/renderer"
	"github.com/harender/harender/watch"
	"github.com/hashicorp/consul/api"
)

// scaleTemplate ranges over every service, as bench-scale's does.
const scaleTemplate = `# {{ len services }} services
{{ range services }}
backend {{ .Name }}{{ range .Tags }} # tag {{ . }}{{ end }}
{{- range service .Name }}
    server {{ .Node }}_{{ .ID }} {{ .Address }}:{{ .Port }} # {{ .Status }} {{ .NodeAddress }}{{ range .Tags }} {{ . }}{{ end }}{{ range .Checks }} {{ .CheckID }}={{ .Status }}{{ end }}
{{- end }}
{{ end -}}
`

// TestSharedMatchesConsulTemplate runs the shared queries against a real
// agent holding 50 services x 3 instances: the template renders byte for
// byte what consul-template v0.42.1 renders, before and after changes of
// every kind (checks failing, instances leaving and joining, an address
// moving with no check change), and the Watcher holds at most
// watch.SharedMaxConns connections to the agent for its 51 dependencies.
func TestSharedMatchesConsulTemplate(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Consul agent and consul-template")
	}
	ct := testenv.Require(t, "consul-template v0.42.1",
		os.Getenv("CONSUL_TEMPLATE_BIN"), filepath.Join(testenv.RepoBin(), "consul-template"))
	c := testenv.StartConsul(t)
	reg := func(k, j int, status string) {
		t.Helper()
		id := fmt.Sprintf("svc-%02d-%d", k, j)
		_, err := c.Client.Catalog().Register(&api.CatalogRegistration{
			Node: fmt.Sprintf("node-%d", (k+j)%7), Address: fmt.Sprintf("10.0.%d.1", (k+j)%7), SkipNodeUpdate: true,
			Service: &api.AgentService{ID: id, Service: fmt.Sprintf("svc-%02d", k), Address: fmt.Sprintf("10.1.%d.%d", k, j),
				Port: 8000 + j, Tags: []string{"v1", fmt.Sprintf("g%d", k%3)}},
			Check: &api.AgentCheck{Node: fmt.Sprintf("node-%d", (k+j)%7), CheckID: "service:" + id, Name: "alive",
				Status: status, ServiceID: id},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	for k := range 50 {
		for j := range 3 {
			reg(k, j, "passing")
		}
	}
	port := c.Addr[strings.LastIndex(c.Addr, ":")+1:]
	before := connsTo(t, port)

	client, err := watch.NewClient(watch.ClientConfig{Address: c.Addr})
	if err != nil {
		t.Fatal(err)
	}
	w := watch.New(client, watch.Options{Shared: true, MinInterval: time.Millisecond, HoldEmpty: -1, RemovalHold: -1})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); w.Stop() }()
	tmpl, err := renderer.Parse("scale.tmpl", scaleTemplate, renderer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "scale.tmpl")
	if err := os.WriteFile(src, []byte(scaleTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	most := 0
	render := func() string {
		res, err := tmpl.Execute(w.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		w.Watch(ctx, res.Used)
		most = max(most, connsTo(t, port)-before)
		if len(res.Missing) > 0 {
			return ""
		}
		return string(res.Output)
	}
	reference := func() string {
		out := filepath.Join(dir, "ct.out")
		cmd := exec.Command(ct, "-once", "-consul-addr", c.Addr, "-template", src+":"+out, "-log-level=err")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("consul-template: %v\n%s", err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// exact compares the data of every service with what its own query
	// returns now: the shared queries (fetched or patched) must hand out
	// the very same values.
	exact := func(step string) {
		t.Helper()
		snap := w.Snapshot()
		for k := range 51 {
			d, err := watch.NewHealthServiceQuery(fmt.Sprintf("svc-%02d", k))
			if err != nil {
				t.Fatal(err)
			}
			got, watched := snap.Get(d)
			if !watched {
				continue // svc-50 before it registers
			}
			own, _, err := d.Fetch(ctx, c.Client, &api.QueryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, own) {
				t.Errorf("%s: %s through the shared queries differs from its own query:\nshared %s\nown    %s",
					step, d, spew(got), spew(own))
			}
		}
	}
	same := func(step string) {
		t.Helper()
		want := reference()
		var got string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			if got = render(); got == want {
				exact(step)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s: harender's %d bytes differ from consul-template's %d:\n--- consul-template\n%s\n--- harender\n%s",
			step, len(got), len(want), want, got)
	}
	same("first render")

	for k := range 5 {
		reg(k, 0, "critical")
	}
	for k := 10; k < 13; k++ {
		if _, err := c.Client.Catalog().Deregister(&api.CatalogDeregistration{
			Node: fmt.Sprintf("node-%d", (k+1)%7), ServiceID: fmt.Sprintf("svc-%02d-1", k)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	reg(20, 3, "passing")
	reg(50, 0, "warning") // a new service
	time.Sleep(500 * time.Millisecond)
	same("after checks failing, instances leaving and joining")

	// An address that moves with no check change names no service.
	if _, err := c.Client.Catalog().Register(&api.CatalogRegistration{
		Node: "node-2", Address: "10.0.2.1", SkipNodeUpdate: true,
		Service: &api.AgentService{ID: "svc-30-1", Service: "svc-30", Address: "10.9.9.9", Port: 8001,
			Tags: []string{"v1", "g0"}},
	}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	same("after an address change")

	if most > watch.SharedMaxConns {
		t.Errorf("the Watcher held %d connections to the agent at once for 51 dependencies, want at most %d",
			most, watch.SharedMaxConns)
	}
	t.Logf("at most %d connections to the agent", most)
}

// TestSharedSeesEveryMove re-registers one instance through the agent on
// a new port, ten times, as TestRunMovesServerWithoutReload does once. The
// agent writes the instance; its HTTP check, run again within a second,
// flips between passing and critical from one port to the next (every
// other listener answers 503), so a check write follows the move by a
// random delay: sometimes while the hub still works out what the move
// was. Each port must reach the Watcher within seconds (see
// TestSharedMoveThenCheckChange for the two ways it was lost).
func TestSharedSeesEveryMove(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Consul agent")
	}
	c := testenv.StartConsul(t)
	register := func(port int) {
		t.Helper()
		err := c.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{
			ID: "web-1", Name: "web", Address: "127.0.0.1", Port: port,
			Check: &api.AgentServiceCheck{HTTP: fmt.Sprintf("http://127.0.0.1:%d/health", port),
				Interval: "1s", Timeout: "1s", Status: api.HealthPassing},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var ports []int
	for n := range 11 {
		code := http.StatusOK
		if n%2 == 1 {
			code = http.StatusServiceUnavailable
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
		}))
		t.Cleanup(srv.Close)
		ports = append(ports, srv.Listener.Addr().(*net.TCPAddr).Port)
	}
	register(ports[0])

	client, err := watch.NewClient(watch.ClientConfig{Address: c.Addr})
	if err != nil {
		t.Fatal(err)
	}
	// harender run's MinInterval and WaitTime: a lost change would show
	// only after 5 minutes.
	w := watch.New(client, watch.Options{Shared: true, MinInterval: 100 * time.Millisecond,
		WaitTime: 5 * time.Minute, HoldEmpty: -1, RemovalHold: -1})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); w.Stop() }()
	d, err := watch.NewHealthServiceQuery("web|any")
	if err != nil {
		t.Fatal(err)
	}
	w.Watch(ctx, []watch.Dependency{d})
	port := func() int {
		v, _ := w.Snapshot().Get(d)
		if l, _ := v.([]*watch.HealthService); len(l) == 1 {
			return l[0].Port
		}
		return 0
	}
	seen := 0
	for n, p := range ports {
		if n > 0 {
			register(p)
		}
		start := time.Now()
		for port() != p && time.Since(start) < 5*time.Second {
			time.Sleep(10 * time.Millisecond)
		}
		if got := port(); got != p {
			t.Errorf("move %d: the Watcher has port %d 5s after the instance moved to %d", n, got, p)
		} else {
			seen++
		}
		time.Sleep(time.Duration(300+n*100) * time.Millisecond) // the check follows, at another moment each time
	}
	t.Logf("%d of %d ports seen", seen, len(ports))
}

// connsTo counts this process's established TCP connections to port.
func connsTo(t *testing.T, port string) int {
	t.Helper()
	fds, _ := filepath.Glob("/proc/self/fd/*")
	mine := map[string]bool{}
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var p int
	fmt.Sscan(port, &p)
	want := fmt.Sprintf(":%04X", p)
	n := 0
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 10 && fields[3] == "01" && strings.HasSuffix(fields[2], want) && mine[fields[9]] {
				n++
			}
		}
		f.Close()
	}
	return n
}

// spew prints health data with its checks, for a failure message.
func spew(v any) string {
	list, _ := v.([]*watch.HealthService)
	var b strings.Builder
	for _, s := range list {
		fmt.Fprintf(&b, "%+v", *s)
		for _, c := range s.Checks {
			fmt.Fprintf(&b, " check %+v", *c)
		}
		b.WriteString("\n")
	}
	return b.String()
}
