package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
	"github.com/hashicorp/consul/api"
)

// TestFaultMassRemoval is fault-table row 4: four of five instances vanish
// from Consul in one change, under load. harender holds the change for the
// removal hold (consul { removal_hold = "10s" } here, longer than the load; 30s by default),
// with a warning that gives the numbers, and then applies it, since it is
// still true. The deregistered gateways keep serving, so no request may
// fail while HAProxy keeps them.
//
// The instances are moved to an external catalog node, so that one
// transaction removes all four in one raft write: deregistered through the
// agent one by one, the watch could see 5→4 before 4→1.
func TestFaultMassRemoval(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the removal hold under load per HAProxy version")
	}
	forEachFaultHAProxy(t, func(t *testing.T, bin string) {
		const removalHold = 10 * time.Second
		consul := testenv.StartConsul(t)
		const node = "ext"
		for i := 1; i <= 5; i++ {
			gw := testenv.StartGateway(t, consul, "gateway", fmt.Sprintf("gw-%d", i))
			gw.Deregister(t)
			_, err := consul.Client.Catalog().Register(&api.CatalogRegistration{
				Node: node, Address: "127.0.0.1",
				Service: &api.AgentService{ID: gw.ID, Service: "gateway", Address: "127.0.0.1", Port: gw.Addr.Port},
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
		}
		consul.WaitPassing(t, "gateway", 5)
		s, _ := runSetup(t, consul.Addr, bin, "")
		text, _ := os.ReadFile(s.config)
		writeFile(t, s.config, strings.Replace(string(text), "consul {\n", "consul {\n  removal_hold = \"10s\"\n", 1))
		r, url := startServing(t, s, 5)

		watch := watchServers(s.haproxyCfg)
		wrk := testenv.StartWrk(t, "-t1", "-c16", "-d8s", url)
		time.Sleep(time.Second)
		var ops api.TxnOps
		for i := 1; i <= 4; i++ {
			ops = append(ops, &api.TxnOp{Service: &api.ServiceTxnOp{Verb: api.ServiceDelete, Node: node,
				Service: api.AgentService{ID: fmt.Sprintf("gw-%d", i), Service: "gateway"}}})
		}
		removed := time.Now()
		if ok, resp, _, err := consul.Client.Txn().Txn(ops, nil); err != nil || !ok {
			t.Fatalf("txn: ok %v, err %v, %+v", ok, err, resp)
		}
		waitFor(t, r, "the mass-removal warning", func() bool {
			return strings.Contains(r.Logs(), "mass removal, holding it back")
		})
		warned := time.Since(removed)
		res, err := wrk.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		during, _ := watch.stop() // fewest servers rendered while wrk ran
		cfg, _ := os.ReadFile(s.haproxyCfg)
		heldAt := time.Since(removed)
		stillFive := strings.Count(string(cfg), "\n    server ") == 5 && heldAt < removalHold

		var applied time.Duration
		for deadline := removed.Add(removalHold + 20*time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			cfg, _ := os.ReadFile(s.haproxyCfg)
			if strings.Count(string(cfg), "\n    server ") == 1 && strings.Contains(string(cfg), "server gw-5 ") {
				applied = time.Since(removed)
				break
			}
		}
		got, _ := testenv.Answers(url, 6)
		t.Logf("wrk: %s", res)
		t.Logf("%s: warned %s after the removal; %d servers rendered at least while wrk ran (5 still at +%s: %v); applied %s after the removal; answers after: %v",
			testenv.HAProxyVersion(bin), warned.Round(time.Millisecond), during, heldAt.Round(time.Millisecond), stillFive, applied.Round(time.Millisecond), got)

		did := fmt.Sprintf("held 5→1 with a warning (80%% > 50%%), HAProxy kept all 5; applied %.1fs after the removal (removal hold %s)", applied.Seconds(), removalHold)
		if applied == 0 {
			did = "never applied the mass removal"
		}
		faultRow{Fault: "4 of 5 instances deregistered in one change, under load", Did: did, Load: res, ConfigLost: during == 0}.report(t, bin)

		if during != 5 || !stillFive {
			t.Errorf("HAProxy's config lost servers within the hold: fewest %d during the load, still 5 at +%s: %v", during, heldAt.Round(time.Millisecond), stillFive)
		}
		if applied == 0 {
			t.Fatalf("the mass removal was not applied within %s\n%s", removalHold+20*time.Second, r.Logs())
		}
		if applied < removalHold {
			t.Errorf("the mass removal was applied %s after it happened, before the %s hold", applied, removalHold)
		}
		if res.Failed() > 0 {
			t.Errorf("%d of %d requests failed while the removed instances still served", res.Failed(), res.Requests)
		}
		if got := r.metric(t, `harender_watch_guard_total{rule="mass_removal"}`); got != 1 {
			t.Errorf(`harender_watch_guard_total{rule="mass_removal"} = %v, want 1`, got)
		}
		if l := logLines(r.Logs(), "mass removal"); !strings.Contains(l, "items_before=5") || !strings.Contains(l, "items_now=1") ||
			!strings.Contains(l, "mass removal still true after the hold") {
			t.Errorf("mass-removal log lines lack the numbers or the delivery:\n%s", l)
		}
	})
}
