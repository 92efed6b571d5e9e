package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
)

// TestFaultConsulKilled is fault-table row 1: the Consul agent is killed
// with SIGKILL under load and started again 10 s later. A dev agent comes
// back empty, as an agent whose data directory was lost would: the
// instances register again, except gw-3, which stopped serving while the
// agent was down, and a new gw-4 joins. HAProxy must serve its last config
// all along, the rendered haproxy.cfg must never lose its servers, and the
// change must be applied within one retry backoff (max_backoff, set to 2s
// here) of the agent's return, plus the quiescence window.
func TestFaultConsulKilled(t *testing.T) {
	forEachFaultHAProxy(t, func(t *testing.T, bin string) {
		const maxBackoff = 2 * time.Second
		consul, gws := startGateways(t, 3)
		s, _ := runSetup(t, consul.Addr, bin, "")
		setMaxBackoff(t, s.config, maxBackoff)
		r, url := startServing(t, s, 3)

		watch := watchServers(s.haproxyCfg)
		wrk := testenv.StartWrk(t, "-t1", "-c16", "-d20s", url)
		time.Sleep(2 * time.Second)

		consul.Kill(t)
		killed := time.Now()
		// The outage: gw-3 stops serving; HAProxy's own checks take it
		// out, and its retries hide it from clients.
		gws[2].Stop() // gw-3
		for time.Since(killed) < 10*time.Second {
			if !r.healthy() {
				t.Logf("/healthz turned 503 during the outage")
			}
			time.Sleep(time.Second)
		}
		consul.Start(t)
		back := time.Now()
		gws[0].Register(t) // gw-1
		gws[1].Register(t) // gw-2
		testenv.StartGateway(t, consul, "gateway", "gw-4")
		registered := time.Since(back)

		var applied time.Duration
		for deadline := back.Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			cfg, _ := os.ReadFile(s.haproxyCfg)
			got, _ := testenv.Answers(url, 6)
			if strings.Contains(string(cfg), "server gw-4 ") && !strings.Contains(string(cfg), "server gw-3 ") && got["hello from gw-4"] > 0 {
				applied = time.Since(back)
				break
			}
		}
		res, err := wrk.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		least, empty := watch.stop()
		t.Logf("wrk: %s", res)
		t.Logf("agent back at +%s after the kill; instances registered %s later; change applied %s after the agent's return; fewest servers rendered %d",
			back.Sub(killed).Round(time.Millisecond), registered.Round(time.Millisecond), applied.Round(time.Millisecond), least)

		held := "rendered no partial answer"
		if strings.Contains(r.Logs(), "holding it back") {
			held = "held the shrunken answers back"
		}
		did := fmt.Sprintf("kept serving its last config; %s; applied gw-3 out, gw-4 in %.1fs after the agent returned (max_backoff %s)",
			held, applied.Seconds(), maxBackoff)
		if applied == 0 {
			did = "never applied the change made while the agent was down"
		}
		faultRow{Fault: "Consul agent kill -9 under load, back 10s later (empty)", Did: did, Load: res, ConfigLost: empty || least == 0}.report(t, bin)

		if applied == 0 {
			t.Fatalf("the change made while the agent was down was not applied within 30s\n%s", r.Logs())
		}
		// One backoff period, the quiescence window (wait max 200ms), the
		// registrations, and slack for a machine shared with other tests.
		if limit := maxBackoff + 200*time.Millisecond + registered + 2*time.Second; applied > limit {
			t.Errorf("the change was applied %s after the agent returned, want within %s", applied, limit)
		}
		if empty || least < 2 {
			t.Errorf("the rendered haproxy.cfg went down to %d servers (empty or unreadable: %v)", least, empty)
		}
		if res.Failed() > 0 {
			t.Errorf("%d of %d requests failed through the outage", res.Failed(), res.Requests)
		}
		if !strings.Contains(r.Logs(), "consul query failed, retrying") {
			t.Errorf("the outage was not logged as retries")
		}
	})
}

// setMaxBackoff sets consul { retry { max_backoff } } in a harender.hcl.
func setMaxBackoff(t *testing.T, config string, d time.Duration) {
	t.Helper()
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), `max_backoff = "500ms"`, fmt.Sprintf(`max_backoff = %q`, d), 1)
	if text == string(b) {
		t.Fatalf("no max_backoff in %s", config)
	}
	writeFile(t, config, text)
}
