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
// reload, and a steady load loses nothing.
func TestRunMovesServerWithoutReload(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul := testenv.StartConsul(t)
		testenv.StartGateway(t, consul, "gateway", "gw-1")
		testenv.StartGateway(t, consul, "gateway", "gw-2")
		consul.WaitPassing(t, "gateway", 2)
		// Serves "hello from moved"; registered elsewhere for now.
		moved := testenv.StartGateway(t, consul, "elsewhere", "moved")
		s, _ := runSetup(t, consul.Addr, bin, "")
		r := startRun(t, s.config)
		r.waitHealthy(t)
		url := "http://" + s.bind + "/"
		waitAnswers(t, url, 2)
		reloadsBefore := r.metric(t, `harender_haproxy_reloads_total{result="ok"}`)
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
		if got := r.metric(t, `harender_haproxy_runtime_updates_total{result="ok"}`); got < 1 {
			t.Errorf("runtime updates = %v, want at least 1", got)
		}
		if got := r.metric(t, `harender_haproxy_reloads_total{result="ok"}`); got != reloadsBefore {
			t.Errorf("reloads went from %v to %v; a port change needs none", reloadsBefore, got)
		}
	})
}
