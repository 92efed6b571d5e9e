package main

import (
	"os"
	"strings"
	"testing"

	"github.com/harender/harender/internal/testenv"
)

// TestRunMasterSocketOnly runs HAProxy with a master socket and no stats
// socket at all: membership still changes through the runtime API (the
// master CLI passes the commands to the worker), with no reload.
func TestRunMasterSocketOnly(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, _ := startGateways(t, 2)
		s, _ := runSetup(t, consul.Addr, bin, "")
		cfg, err := os.ReadFile(s.config)
		if err != nil {
			t.Fatal(err)
		}
		without := strings.Replace(string(cfg), "  runtime_socket      = \"admin.sock\"\n", "", 1)
		if without == string(cfg) {
			t.Fatal("test setup: no runtime_socket line to take out")
		}
		writeFile(t, s.config, without)
		r, url := startServing(t, s, 2)
		rendered, _ := os.ReadFile(s.haproxyCfg)
		if strings.Contains(string(rendered), "stats socket") {
			t.Fatalf("the rendered config has a stats socket; this test needs none:\n%s", rendered)
		}
		reloads := r.metric(t, okReloads)
		load := testenv.StartLoad(url, 4)
		testenv.StartGateway(t, consul, "gateway", "gw-3")
		waitAnswers(t, url, 3)
		load.Stop()
		if ok, failed, _ := load.Snapshot(); failed > 0 || ok == 0 {
			t.Errorf("load: %d ok, %d failed: %v", ok, failed, load.Errors)
		}
		if got := r.metric(t, okReloads) - reloads; got != 0 {
			t.Errorf("%v reloads for a new instance, want 0\n%s", got, lastLines(r.Logs(), 20))
		}
		if n := r.metric(t, `harender_haproxy_runtime_updates_total{result="ok"}`); n < 1 {
			t.Errorf("runtime updates = %v, want the new instance added through the master CLI", n)
		}
	})
}
