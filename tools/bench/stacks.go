package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/harender/harender/haproxy"
)

// stack is one way of keeping a proxy in step with the members.
type stack interface {
	// prepare writes the stack's files before the source starts.
	prepare(e *env) error
	// start starts the proxy; the caller then waits until it serves.
	start(e *env) error
	// reloads is how many times the proxy reloaded so far; -1: not counted.
	reloads(e *env) int
	// runtime is how many runtime API updates it made; -1: not counted.
	runtime(e *env) int
	// controller names the program that keeps the proxy in step, whose CPU
	// time is reported; "" when that is the proxy itself (Fabio).
	controller() string
}

// stackSpec is a stack as the -stacks flag names it: KIND[@HAPROXY].
type stackSpec struct {
	name, kind, version string
	haproxy             string // binary; "" for Fabio
}

func parseStacks(list string, o *options) ([]stackSpec, error) {
	var out []stackSpec
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		kind, ver, _ := strings.Cut(s, "@")
		sp := stackSpec{name: s, kind: kind, version: ver}
		switch kind {
		case "harender", "harender-always", "consul-template", "serf", "harender-serf", "static":
			switch ver {
			case "2.6":
				sp.haproxy = o.haproxy26
			case "3.0":
				sp.haproxy = o.haproxy30
			case "3.4":
				sp.haproxy = o.haproxy34
			default:
				return nil, fmt.Errorf("stack %q: HAProxy version must be 2.6, 3.0 or 3.4", s)
			}
		case "fabio":
			if ver != "" {
				return nil, fmt.Errorf("stack %q: Fabio takes no HAProxy version", s)
			}
		default:
			return nil, fmt.Errorf("stack %q: unknown kind (harender, harender-always, consul-template, fabio, serf, harender-serf, static)", s)
		}
		out = append(out, sp)
	}
	return out, nil
}

// build makes the stack and the member source it reads.
func (sp stackSpec) build(o *options) (stack, source) {
	switch sp.kind {
	case "harender":
		return &harenderStack{bin: sp.haproxy, reload: "auto"}, &consulSource{}
	case "harender-always":
		return &harenderStack{bin: sp.haproxy, reload: "always"}, &consulSource{}
	case "harender-serf":
		return &harenderStack{bin: sp.haproxy, reload: "auto", serf: true}, &serfSource{}
	case "consul-template":
		return &ctStack{bin: sp.haproxy}, &consulSource{}
	case "serf":
		return &serfStack{bin: sp.haproxy}, &serfSource{}
	case "static":
		return &staticStack{bin: sp.haproxy}, &consulSource{}
	}
	return &fabioStack{}, &consulSource{}
}

// masterReloads reads the reload counter of the master's `show proc`.
func masterReloads(e *env) int {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// A reload in progress refuses the socket for a moment: retry.
	p, err := (&haproxy.Master{Path: e.path("master.sock"), Retry: 10 * time.Second}).ShowProc(ctx)
	if err != nil {
		return -1
	}
	return p.Master.Reloads
}

// startHAProxy starts HAProxy in master-worker mode on haproxy.cfg, for the
// stacks that do not start it themselves, once the file has n servers.
func startHAProxy(e *env, bin string, n int) error {
	cfg := e.path("haproxy.cfg")
	if err := waitFor(fmt.Sprintf("%s with %d servers", cfg, n), 30*time.Second, func() bool {
		return countServers(cfg) >= n
	}); err != nil {
		return err
	}
	_, err := e.ps.start("haproxy", nil, bin, "-W", "-S", e.path("master.sock"), "-f", cfg, "-p", e.path("haproxy.pid"))
	return err
}

func countServers(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if strings.HasPrefix(strings.TrimSpace(sc.Text()), "server ") {
			n++
		}
	}
	return n
}

// harenderStack: `harender run`, which starts HAProxy itself.
type harenderStack struct {
	bin, reload string
	serf        bool
}

func (h *harenderStack) prepare(e *env) error {
	tmpl := consulTemplate(e, e.o.kvEvery > 0)
	src := fmt.Sprintf("consul {\n  address = %q\n}\n", addr(e.ports.consulHTTP()))
	if h.serf {
		tmpl = serfTemplate(e)
		src = fmt.Sprintf("serf {\n  rpc_addr = %q\n}\n", addr(e.ports.serfLB()+1))
	}
	if err := os.WriteFile(e.path("haproxy.cfg.tmpl"), []byte(tmpl), 0o644); err != nil {
		return err
	}
	hcl := src + fmt.Sprintf(`listen = %q
template {
  source      = %q
  destination = %q
}
haproxy {
  binary            = %q
  config            = %q
  master_socket     = %q
  runtime_socket    = %q
  server_state_file = %q
  pid_file          = %q
  start             = true
  reload            = %q
}
`, addr(e.ports.metrics()), e.path("haproxy.cfg.tmpl"), e.path("haproxy.cfg"), h.bin, e.path("haproxy.cfg"),
		e.path("master.sock"), e.path("admin.sock"), e.path("server-state"), e.path("haproxy.pid"), h.reload)
	return os.WriteFile(e.path("harender.hcl"), []byte(hcl), 0o644)
}

func (h *harenderStack) start(e *env) error {
	_, err := e.ps.start("harender", nil, e.o.harender, "run", "--config", e.path("harender.hcl"))
	return err
}

func (h *harenderStack) reloads(e *env) int { return masterReloads(e) }
func (h *harenderStack) controller() string { return "harender" }

// runtime sums harender_haproxy_runtime_updates_total{result="ok"}.
func (h *harenderStack) runtime(e *env) int {
	resp, err := http.Get("http://" + addr(e.ports.metrics()) + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	n := 0
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		l := sc.Text()
		if strings.HasPrefix(l, "harender_haproxy_runtime_updates_total{") && strings.Contains(l, `result="ok"`) {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += int(v)
		}
	}
	return n
}

// ctStack: consul-template renders haproxy.cfg and runs the reload script
// (haproxy -c, then "reload" on the master socket) after every change.
// template is what it renders (default: the gateway's consulTemplate),
// serving how many instances HAProxy must answer with at start (default 3).
type ctStack struct {
	bin      string
	template func(e *env) string
	serving  int
}

func (c *ctStack) prepare(e *env) error {
	text := consulTemplate(e, e.o.kvEvery > 0)
	if c.template != nil {
		text = c.template(e)
	}
	return os.WriteFile(e.path("haproxy.cfg.tmpl"), []byte(text), 0o644)
}

func (c *ctStack) start(e *env) error {
	cmd := fmt.Sprintf("%s %s %s %s", e.o.reloadScript, c.bin, e.path("haproxy.cfg"), e.path("master.sock"))
	if _, err := e.ps.start("consul-template", nil, e.o.consulTemplate,
		"-consul-addr", addr(e.ports.consulHTTP()), "-log-level", "warn",
		"-template", e.path("haproxy.cfg.tmpl")+":"+e.path("haproxy.cfg")+":"+cmd); err != nil {
		return err
	}
	return startHAProxy(e, c.bin, cmp.Or(c.serving, 3))
}

func (c *ctStack) reloads(e *env) int { return masterReloads(e) }
func (c *ctStack) runtime(*env) int   { return -1 }
func (c *ctStack) controller() string { return "consul-template" }

// serfStack: the canonical Serf + HAProxy set-up. The load balancer's Serf
// agent runs the event handler on member-join, -leave and -failed; it
// rewrites the server list from `serf members` and reloads.
type serfStack struct{ bin string }

func (s *serfStack) prepare(e *env) error {
	if err := os.WriteFile(e.path("header.cfg"), []byte(header(e, "")), 0o644); err != nil {
		return err
	}
	e.lbArgs = []string{"-event-handler", "member-join,member-leave,member-failed=" + e.o.serfHandler}
	e.lbEnv = []string{"HAPROXY=" + s.bin, "HAPROXY_CFG=" + e.path("haproxy.cfg"), "HAPROXY_HEADER=" + e.path("header.cfg"),
		"HAPROXY_MASTER=" + e.path("master.sock"), "SERF_RPC=" + addr(e.ports.serfLB()+1), "RELOAD=" + e.o.reloadScript}
	return nil
}

func (s *serfStack) start(e *env) error { return startHAProxy(e, s.bin, 3) }
func (s *serfStack) reloads(e *env) int { return masterReloads(e) }
func (s *serfStack) runtime(*env) int   { return -1 }
func (s *serfStack) controller() string { return "serf-lb" }

// fabioStack: Fabio routes by the urlprefix-/ tag of the passing instances.
type fabioStack struct{}

func (f *fabioStack) prepare(*env) error { return nil }

func (f *fabioStack) start(e *env) error {
	_, err := e.ps.start("fabio", nil, e.o.fabio,
		"-registry.consul.addr", addr(e.ports.consulHTTP()),
		"-registry.consul.register.enabled=false",
		"-proxy.addr", addr(e.ports.front()),
		"-ui.addr", addr(e.ports.fabioUI()),
		"-proxy.strategy", "rr")
	return err
}

func (f *fabioStack) reloads(*env) int   { return -1 }
func (f *fabioStack) runtime(*env) int   { return -1 }
func (f *fabioStack) controller() string { return "" }

// staticStack: HAProxy on a fixed config of the stable instances, with
// nothing following Consul. Its churn run is the floor of the others: what
// Consul's own work and the instances cost the proxy's throughput.
type staticStack struct{ bin string }

func (s *staticStack) prepare(e *env) error {
	var b strings.Builder
	b.WriteString(header(e, ""))
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&b, "    server gw-%d 127.0.0.1:%d check\n", i, e.ports.instance(i))
	}
	return os.WriteFile(e.path("haproxy.cfg"), []byte(b.String()), 0o644)
}

func (s *staticStack) start(e *env) error { return startHAProxy(e, s.bin, 3) }
func (s *staticStack) reloads(e *env) int { return masterReloads(e) }
func (s *staticStack) runtime(*env) int   { return -1 }
func (s *staticStack) controller() string { return "" }
