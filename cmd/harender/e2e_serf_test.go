package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
)

// serfKey is the RPC auth key of the agent harender talks to. It must
// appear nowhere harender writes.
const serfKey = "e2e-serf-rpc-auth-0b5f"

// serfSetup writes a harender.hcl that renders the built-in gateway
// template from the members of lb's cluster tagged role=gateway, their
// service port in tag port, and has harender start HAProxy.
func serfSetup(t *testing.T, lb *testenv.SerfAgent, haproxyBin string) gatewaySetup {
	t.Helper()
	dir := t.TempDir()
	s := gatewaySetup{
		dir:        dir,
		config:     filepath.Join(dir, "harender.hcl"),
		haproxyCfg: filepath.Join(dir, "haproxy.cfg"),
		master:     filepath.Join(dir, "master.sock"),
		runtime:    filepath.Join(dir, "admin.sock"),
		bind:       fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
	}
	if err := os.WriteFile(filepath.Join(dir, "serf.key"), []byte(serfKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, s.config, fmt.Sprintf(`
serf {
  rpc_addr      = %q
  rpc_auth_file = "serf.key"
}
wait {
  min = "50ms"
  max = "200ms"
}
template {
  builtin     = "gateway"
  params      = { source = "serf", serf_filter = "role=gateway", port_tag = "port", bind = %q }
  destination = "haproxy.cfg"
}
haproxy {
  binary              = %q
  config              = "haproxy.cfg"
  master_socket       = "master.sock"
  runtime_socket      = "admin.sock"
  server_state_file   = "server-state"
  min_reload_interval = "1s"
  start               = true
}
`, lb.RPC, s.bind, haproxyBin))
	return s
}

// serfGateway is a gateway instance announced by its own Serf agent.
type serfGateway struct {
	gw    *testenv.Gateway
	agent *testenv.SerfAgent
}

func startSerfGateway(t *testing.T, name string, join string) serfGateway {
	t.Helper()
	gw := testenv.StartGateway(t, nil, "gateway", name)
	tags := map[string]string{"role": "gateway", "port": strconv.Itoa(gw.Addr.Port)}
	return serfGateway{gw: gw, agent: testenv.StartSerfAgent(t, name, tags, "", join)}
}

// TestRunSerfUnderLoad is the Serf source end to end, under wrk through
// HAProxy: three gateways, each with its own Serf agent; a join, a tag
// update, a graceful leave and a kill -9 of an instance and its agent each
// reach HAProxy through the runtime API; the agent harender talks to is
// restarted, and no render empties the backend, and changes flow again
// with no restart of harender. No request fails and HAProxy never reloads.
func TestRunSerfUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("real Serf agents and a load run per HAProxy version")
	}
	testenv.Require(t, "wrk", os.Getenv("WRK_BIN"), "wrk")
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		lb := testenv.StartSerfAgent(t, "lb", map[string]string{"role": "lb"}, serfKey)
		var gws []serfGateway
		for i := 1; i <= 3; i++ {
			gws = append(gws, startSerfGateway(t, fmt.Sprintf("gw-%d", i), lb.Bind))
		}
		lb.WaitMembers(t, "lb", "gw-1", "gw-2", "gw-3")
		s := serfSetup(t, lb, bin)
		r, url := startServing(t, s, 3)
		rt := &haproxy.Runtime{Path: s.runtime}
		master := &haproxy.Master{Path: s.master}
		procsBefore, err := master.ShowProc(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		reloadsBefore := r.metric(t, okReloads)
		updatesBefore := r.metricSum(t, "harender_haproxy_runtime_updates_total")

		// Each step runs under a wrk of its own, so that a failed request
		// is blamed on the step it happened in (timeouts at 10s:
		// testenv.StartWrk).
		var took []string
		var res testenv.WrkResult
		step := func(what string, act func(), done func() bool) {
			t.Helper()
			wrk := testenv.StartWrk(t, "-t2", "-c16", "-d120s", "--latency", url)
			time.Sleep(time.Second)
			start := time.Now()
			act()
			waitWithin(t, r, what, 30*time.Second, done)
			in := time.Since(start)
			time.Sleep(time.Second) // load on the new state
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			w, err := wrk.Stop(ctx)
			if err != nil {
				t.Fatal(err)
			}
			res = addWrk(res, w)
			took = append(took, fmt.Sprintf("%s: in HAProxy after %s; wrk %d requests, %d failed, p99 %s", what,
				in.Round(10*time.Millisecond), w.Requests, w.Failed(), w.Latency["99%"]))
			if w.Failed() > 0 {
				t.Errorf("%s: wrk: %s; want no failed request", what, w)
			}
		}
		in := func(name string) func() bool {
			return func() bool { return serverIn(t, rt, name) && servedBy(url, name) }
		}
		// Out is deleted from HAProxy, not only down by its own check.
		out := func(name string) func() bool {
			return func() bool { return serverGone(t, rt, name) }
		}

		var gw4 serfGateway
		step("gw-4 joins", func() { gw4 = startSerfGateway(t, "gw-4", lb.Bind) }, in("gw-4"))
		step("gw-2 tagged role=standby",
			func() { gws[1].agent.SetTags(t, map[string]string{"role": "standby"}) }, out("gw-2"))
		step("gw-2 tagged role=gateway again",
			func() { gws[1].agent.SetTags(t, map[string]string{"role": "gateway"}) }, in("gw-2"))
		step("gw-4 leaves gracefully", func() { gw4.agent.Leave(t) }, out("gw-4"))
		gw4.gw.Stop()
		step("gw-3 and its agent killed (member-failed)", func() {
			gws[2].agent.Kill(t)
			gws[2].gw.Stop()
		}, out("gw-3"))

		// The agent harender talks to restarts: harender keeps gw-1 and
		// gw-2, and follows the cluster again once the agent is back.
		servers := watchServers(s.haproxyCfg)
		step("harender's agent restarted", func() {
			lb.Stop(t)
			time.Sleep(2 * time.Second)
			lb.Start(t)
			time.Sleep(500 * time.Millisecond) // it knows only itself meanwhile
			lb.Join(t, gws[0].agent.Bind)
			time.Sleep(2 * time.Second)
		}, func() bool { return serverIn(t, rt, "gw-1") && serverIn(t, rt, "gw-2") })
		step("gw-5 joins after the agent's restart",
			func() { startSerfGateway(t, "gw-5", gws[0].agent.Bind) }, in("gw-5"))
		least, empty := servers.stop()

		procsAfter, err := master.ShowProc(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		reloads := r.metric(t, okReloads) - reloadsBefore
		updates := r.metricSum(t, "harender_haproxy_runtime_updates_total") - updatesBefore
		logs := r.Logs()
		t.Logf("serf run, %s:\n  %s\n  wrk in all: %d requests, %d failed\n  runtime API updates %.0f; reloads: %.0f by harender, %d by show proc\n  fewest servers in haproxy.cfg while the agent restarted: %d",
			testenv.HAProxyVersion(bin), strings.Join(took, "\n  "), res.Requests, res.Failed(), updates, reloads,
			procsAfter.Master.Reloads-procsBefore.Master.Reloads, least)

		if res.Requests == 0 {
			t.Errorf("wrk: %s; want requests", res)
		}
		if reloads != 0 || procsAfter.Master.Reloads != procsBefore.Master.Reloads || procsAfter.Master.PID != procsBefore.Master.PID {
			t.Errorf("reloads: %.0f by harender, show proc %+v then %+v; want none", reloads, procsBefore.Master, procsAfter.Master)
		}
		if updates == 0 {
			t.Error("no runtime API update counted")
		}
		if empty || least < 2 {
			t.Errorf("while the agent restarted haproxy.cfg held %d servers (missing or empty: %v); want gw-1 and gw-2 all along", least, empty)
		}
		// One restart, one warning, not one a retry; a second may come
		// from an RPC that timed out on a loaded machine.
		if n := strings.Count(logs, "serf agent connection lost"); n < 1 || n > 2 {
			t.Errorf("%d 'serf agent connection lost' warnings, want 1 (2 at most):\n%s", n, logLines(logs, "serf"))
		}
		if !strings.Contains(logs, "serf agent reachable again") {
			t.Errorf("no 'serf agent reachable again' in the log:\n%s", logLines(logs, "serf"))
		}
		if strings.Contains(logs, serfKey) {
			t.Error("the Serf RPC auth key is in harender's log")
		}
		if up := r.metric(t, "harender_serf_up"); up != 1 {
			t.Errorf("harender_serf_up %v, want 1", up)
		}
	})
}

// serverIn is whether HAProxy has server name of backend gateway in
// rotation: present, not in maintenance, and up.
func serverIn(t *testing.T, rt *haproxy.Runtime, name string) bool {
	st, err := rt.ServersState(t.Context())
	if err != nil {
		return false
	}
	s := st.Find("gateway", name)
	return s != nil && !s.Maint() && s.OpState == 2
}

// serverGone is whether HAProxy has no server name in backend gateway.
func serverGone(t *testing.T, rt *haproxy.Runtime, name string) bool {
	st, err := rt.ServersState(t.Context())
	return err == nil && st.Find("gateway", name) == nil
}

// servedBy is whether one of a few requests through HAProxy is answered
// by name.
func servedBy(url, name string) bool {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 12 {
		if ans, err := testenv.Get(c, url); err == nil && ans == "hello from "+name {
			return true
		}
	}
	return false
}

// TestSerfConfigBlock: the serf block's settings, the auth file relative
// to the config file, and an unknown key named with file:line:col.
func TestSerfConfigBlock(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(dir, "good.hcl"), `
serf {
  rpc_addr      = "10.0.0.1:7373"
  rpc_auth_file = "keys/serf.key"
}
template {
  builtin     = "gateway"
  params      = { source = "serf" }
  destination = "haproxy.cfg"
}
`)
	p, err := readConfigFile(good)
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	if err := cfg.fromFile(p); err != nil {
		t.Fatal(err)
	}
	if want := (SerfConfig{Addr: "10.0.0.1:7373", AuthKeyFile: filepath.Join(dir, "keys/serf.key")}); cfg.Serf != want {
		t.Errorf("serf = %+v, want %+v", cfg.Serf, want)
	}
	bad := writeFile(t, filepath.Join(dir, "bad.hcl"), "serf {\n  rpc_auth = \"x\"\n}\n")
	_, err = readConfigFile(bad)
	if err == nil || !strings.HasPrefix(err.Error(), bad+":2:3: Unsupported argument") {
		t.Errorf("err = %v, want %s:2:3: Unsupported argument...", err, bad)
	}
}
