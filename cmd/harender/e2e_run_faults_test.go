package main

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/goleak"

	"github.com/harender/harender/internal/testenv"
)

// TestRunReloadStormIsBounded fires 200 changes that each need a reload
// within 2s; min_reload_interval (1s) merges them into a handful.
func TestRunReloadStormIsBounded(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, _ := startGateways(t, 1)
		kv := consul.Client.KV()
		kv.Put(&api.KVPair{Key: "storm", Value: []byte("0")}, nil)
		// A header in the backend: each value is a change only a reload applies.
		s, _ := runSetup(t, consul.Addr, bin, "    http-response set-header X-Storm {{ key \"storm\" }}\n")
		r := startRun(t, s.config)
		r.waitHealthy(t)

		start := time.Now()
		for i := 1; i <= 200; i++ {
			if _, err := kv.Put(&api.KVPair{Key: "storm", Value: []byte(fmt.Sprint(i))}, nil); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Until(start.Add(time.Duration(i) * 10 * time.Millisecond)))
		}
		took := time.Since(start)
		t.Logf("200 changes in %s", took.Round(time.Millisecond))
		reloads, procs := r.waitReloadsAgree(t, s.master, func() bool { return haproxyHeader(s.bind, "X-Storm") == "200" })
		t.Logf("%s: %.0f reloads for 200 changes (show proc: %d)", testenv.HAProxyVersion(bin), reloads, procs.Master.Reloads)
		// At one reload a second while the changes last (2s, longer when
		// the writes are slow), plus the first and the last.
		most := math.Ceil(took.Seconds()) + 2
		if reloads < 1 || reloads > most {
			t.Errorf("reloads = %.0f for changes over %s, want 1 to %.0f", reloads, took.Round(time.Millisecond), most)
		}
	})
}

// TestRunCommandOncePerChange checks a plain template's command: once per
// change of its output, never when unchanged, failures logged and counted.
func TestRunCommandOncePerChange(t *testing.T) {
	consul := testenv.StartConsul(t)
	kv := consul.Client.KV()
	kv.Put(&api.KVPair{Key: "app/color", Value: []byte("blue")}, nil)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	cfg := writeFile(t, filepath.Join(dir, "h.hcl"), fmt.Sprintf(`
consul {
  address = %q
}
template {
  contents    = "color={{ key \"app/color\" }}\n"
  destination = "app.conf"
  command     = ["/bin/sh", "-c", "echo ran >> %s; [ \"$(cat %s)\" != color=red ] || { echo red is refused >&2; exit 3; }"]
}
`, consul.Addr, runs, filepath.Join(dir, "app.conf")))
	r := startRun(t, cfg)
	r.waitHealthy(t)
	count := func() int { b, _ := os.ReadFile(runs); return strings.Count(string(b), "ran") }
	// Commands run off the loop: healthy may come before the run ends.
	waitFor(t, r, "the command to run after the first render", func() bool { return count() >= 1 })
	if n := count(); n != 1 {
		t.Fatalf("after the first render the command ran %d times, want 1", n)
	}
	kv.Put(&api.KVPair{Key: "app/color", Value: []byte("green")}, nil)
	waitFor(t, r, "the command to run again", func() bool { return count() == 2 })
	// Same value, new index: the output is unchanged, so no run.
	kv.Put(&api.KVPair{Key: "app/color", Value: []byte("green")}, nil)
	kv.Put(&api.KVPair{Key: "other", Value: []byte("x")}, nil)
	time.Sleep(time.Second)
	if n := count(); n != 2 {
		t.Errorf("the command ran %d times, want 2: it ran for an unchanged output", n)
	}
	kv.Put(&api.KVPair{Key: "app/color", Value: []byte("red")}, nil)
	waitFor(t, r, "the failing command to be logged", func() bool {
		return strings.Contains(r.Logs(), "exit_code=3") && strings.Contains(r.Logs(), "red is refused")
	})
	if v := r.metric(t, `harender_commands_total{result="failed"}`); v != 1 {
		t.Errorf("failed commands metric = %v, want 1", v)
	}
}

// TestRunConsulDownThenUp starts the sidecar before Consul exists: it must
// keep running, report unhealthy, retry, and apply once Consul is there.
func TestRunConsulDownThenUp(t *testing.T) {
	bin := testenv.Require(t, "haproxy", testenv.HAProxyBins()[0])
	consul := testenv.NewConsul(t)
	s, _ := runSetup(t, consul.Addr, bin, "")
	r := startRun(t, s.config)
	time.Sleep(1500 * time.Millisecond)
	if r.healthy() {
		t.Fatal("/healthz is 200 with no Consul")
	}
	if !strings.Contains(r.Logs(), "attempt=") {
		t.Errorf("no retry logged:\n%s", r.Logs())
	}
	if _, err := os.Stat(s.haproxyCfg); !os.IsNotExist(err) {
		t.Fatal("a config was written with no data from Consul")
	}
	consul.Start(t)
	testenv.StartGateway(t, consul, "gateway", "gw-1")
	r.waitHealthy(t)
	waitAnswers(t, "http://"+s.bind+"/", 1)
}

// TestRunLeavesNoGoroutines stops the sidecar and checks that every
// goroutine it started has returned.
func TestRunLeavesNoGoroutines(t *testing.T) {
	bin := testenv.Require(t, "haproxy", testenv.HAProxyBins()[0])
	consul, _ := startGateways(t, 1)
	s, src := runSetup(t, consul.Addr, bin, "")
	ignore := goleak.IgnoreCurrent()
	r, _ := startServing(t, s, 1)
	writeFile(t, src+".unrelated", "x") // wake the file watcher
	if code := r.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	http.DefaultClient.CloseIdleConnections()
	goleak.VerifyNone(t, ignore,
		// Pooled idle connections of HTTP clients close on their own timer;
		// they belong to the transport, not to a goroutine of ours.
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))
}

// TestRunMasterSocketGone restarts HAProxy by hand under the sidecar: the
// change that falls in between is retried until the socket is back; the
// new master is one harender has no record of, so it is reloaded once
// onto the current file.
func TestRunMasterSocketGone(t *testing.T) {
	bin := testenv.Require(t, "haproxy", testenv.HAProxyBins()[0])
	consul, _ := startGateways(t, 1)
	// HAProxy is run by the test here, not by harender.
	s := supervisedSetup(t, consul.Addr, bin)
	hap := renderAndStartHAProxy(t, bin, s)
	r := startRun(t, s.config)
	r.waitHealthy(t)

	hap.Stop()
	os.Remove(s.master)
	testenv.StartGateway(t, consul, "gateway", "gw-2")
	waitFor(t, r, "the unreachable master to be logged", func() bool {
		return strings.Contains(r.Logs(), "apply failed") && strings.Contains(r.Logs(), s.master)
	})
	if r.healthy() {
		t.Error("/healthz is 200 while HAProxy's master does not answer")
	}
	testenv.StartHAProxy(t, bin, s.haproxyCfg)
	waitFor(t, r, "the reload to go through once the socket is back", func() bool {
		return r.metric(t, okReloads) >= 1 && r.healthy()
	})
	waitAnswers(t, "http://"+s.bind+"/", 2)
}

// TestRunConsulRestartRendersNoEmptyBackend restarts the Consul agent (a
// dev agent comes back empty) while the sidecar runs: HAProxy's backend
// never goes empty, and changes flow again with no restart of harender.
func TestRunConsulRestartRendersNoEmptyBackend(t *testing.T) {
	bin := testenv.Require(t, "haproxy", testenv.HAProxyBins()[0])
	consul, gws := startGateways(t, 3)
	s, _ := runSetup(t, consul.Addr, bin, "")
	r, url := startServing(t, s, 3)

	// Watch the rendered file for an empty backend the whole time.
	stop := make(chan struct{})
	minServers := make(chan int, 1)
	go func() {
		least := 3
		for {
			select {
			case <-stop:
				minServers <- least
				return
			case <-time.After(5 * time.Millisecond):
			}
			cfg, err := os.ReadFile(s.haproxyCfg)
			if err == nil {
				least = min(least, strings.Count(string(cfg), "\n    server "))
			}
		}
	}()
	load := testenv.StartLoad(url, 4)
	consul.Stop()
	time.Sleep(time.Second)
	consul.Start(t)
	// The agent comes back with an empty catalog: harender must hold that
	// answer back rather than render it.
	waitFor(t, r, "the empty answer to be held", func() bool {
		return strings.Contains(r.Logs(), "holding it back")
	})
	for _, g := range gws {
		g.Register(t)
	}
	consul.WaitPassing(t, "gateway", 3)
	testenv.StartGateway(t, consul, "gateway", "gw-4")
	waitFor(t, r, "gw-4 to serve after the restart", func() bool {
		got, _ := testenv.Answers(url, 12)
		return got["hello from gw-4"] > 0
	})
	close(stop)
	load.Stop()
	ok, failed, _ := load.Snapshot()
	least := <-minServers
	t.Logf("through a Consul restart: %d requests ok, %d failed; fewest servers rendered: %d", ok, failed, least)
	if least < 3 {
		t.Errorf("the backend shrank to %d servers during the restart", least)
	}
	if failed > 0 {
		t.Errorf("%d requests failed: %v", failed, load.Errors)
	}
}
