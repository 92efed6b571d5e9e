package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/harender/harender/internal/testenv"
)

// TestRunMovesServerWithoutReload re-registers an instance on another
// port: the change reaches HAProxy through the runtime API, with no
// reload; on 2.6, which keeps reusing idle connections to the old address,
// after the server drained in maintenance. A steady load loses nothing,
// and no request reaches the old address afterwards.
func TestRunMovesServerWithoutReload(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, _ := startGateways(t, 2)
		// Serves "hello from moved"; registered elsewhere for now.
		moved := testenv.StartGateway(t, consul, "elsewhere", "moved")
		s, _ := runSetup(t, consul.Addr, bin, "")
		r, url := startServing(t, s, 2)
		reloadsBefore := r.metric(t, okReloads)
		load := testenv.StartLoad(url, 4)

		start := time.Now()
		port := moved.Addr.Port
		err := consul.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{
			ID: "gw-1", Name: "gateway", Address: "127.0.0.1", Port: port,
			Check: &api.AgentServiceCheck{
				HTTP: "http://127.0.0.1:" + strconv.Itoa(port) + "/health", Interval: "500ms",
				Timeout: "1s", Status: api.HealthPassing,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, r, "traffic to reach the moved instance", func() bool {
			got, _ := testenv.Answers(url, 6)
			return got["hello from moved"] > 0 && got["hello from gw-1"] == 0
		})
		t.Logf("%s: moved in %s", testenv.HAProxyVersion(bin), time.Since(start).Round(time.Millisecond))
		time.Sleep(300 * time.Millisecond)
		load.Stop()
		ok, failed, _ := load.Snapshot()
		t.Logf("load: %d ok, %d failed", ok, failed)
		if failed > 0 {
			t.Errorf("%d requests failed: %v", failed, load.Errors)
		}
		runtime := r.metric(t, `harender_haproxy_runtime_updates_total{result="ok"}`)
		reloads := r.metric(t, okReloads) - reloadsBefore
		// On 2.x the moved server first drains in maintenance (moves.go):
		// still no reload.
		if runtime < 1 || reloads != 0 {
			t.Errorf("runtime updates = %v, reloads = %v; want the move through the runtime API and no reload", runtime, reloads)
		}
	})
}
