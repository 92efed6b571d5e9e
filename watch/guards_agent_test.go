package watch

import (
	"fmt"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
	"github.com/hashicorp/consul/api"
)

// TestGuardsAgent runs the keep-last and the mass-removal rules against a
// real dev agent. The five instances live on an external node of the
// catalog, so that one transaction changes them all in one raft write and
// the watch sees one change, as it would if a whole pool failed or was
// deregistered between two of its queries.
func TestGuardsAgent(t *testing.T) {
	agentTest(t)
	a := testenv.StartConsul(t)
	const node = "ext"
	check := func(i int, status string) api.HealthCheck {
		id := fmt.Sprintf("web-%d", i)
		return api.HealthCheck{Node: node, CheckID: id, Name: id, ServiceID: id, ServiceName: "web", Status: status}
	}
	for i := 1; i <= 5; i++ {
		c := check(i, api.HealthPassing)
		_, err := a.Client.Catalog().Register(&api.CatalogRegistration{
			Node: node, Address: "10.0.0.1",
			Service: &api.AgentService{ID: fmt.Sprintf("web-%d", i), Service: "web", Port: 8000 + i},
			Check:   &api.AgentCheck{Node: c.Node, CheckID: c.CheckID, Name: c.Name, ServiceID: c.ServiceID, Status: c.Status},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	txn := func(ops api.TxnOps) {
		t.Helper()
		ok, resp, _, err := a.Client.Txn().Txn(ops, nil)
		if err != nil || !ok {
			var errs []string
			if resp != nil {
				for _, e := range resp.Errors {
					errs = append(errs, e.What)
				}
			}
			t.Fatalf("txn: ok %v, err %v, errors %q", ok, err, errs)
		}
	}
	setChecks := func(status string, ids ...int) {
		t.Helper()
		var ops api.TxnOps
		for _, i := range ids {
			ops = append(ops, &api.TxnOp{Check: &api.CheckTxnOp{Verb: api.CheckSet, Check: check(i, status)}})
		}
		txn(ops)
	}

	guards := &guardLog{}
	const removalHold = 1500 * time.Millisecond
	h, q := watchWeb(t, a.Client, Options{WaitTime: 10 * time.Second, RemovalHold: removalHold, Guarded: guards.record})
	w, logs := h.w, h.logs
	h.waitPorts(q, "[8001 8002 8003 8004 8005]")

	// Every instance critical: the five stay.
	setChecks(api.HealthCritical, 1, 2, 3, 4, 5)
	deadline := time.Now().Add(10 * time.Second)
	for len(logged(h.logLines(), msgKeeping)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(logged(h.logLines(), msgKeeping)) != 1 {
		t.Fatalf("no keep-last warning after every check failed:\n%s", logs)
	}
	time.Sleep(500 * time.Millisecond) // let any wrong answer through
	if got, _ := w.Snapshot().Get(q); ports(got) != "[8001 8002 8003 8004 8005]" {
		t.Fatalf("with every instance critical the watch delivers %s", ports(got))
	}
	// Three pass again: they are delivered at once (40% fewer is no mass
	// removal).
	setChecks(api.HealthPassing, 1, 2, 3)
	h.waitPorts(q, "[8001 8002 8003]")
	setChecks(api.HealthPassing, 4, 5)
	h.waitPorts(q, "[8001 8002 8003 8004 8005]")

	// Four of five deregistered in one change: held, then delivered.
	var ops api.TxnOps
	for i := 1; i <= 4; i++ {
		ops = append(ops, &api.TxnOp{Service: &api.ServiceTxnOp{Verb: api.ServiceDelete, Node: node, Service: api.AgentService{ID: fmt.Sprintf("web-%d", i), Service: "web"}}})
	}
	removed := time.Now()
	txn(ops)
	for len(logged(h.logLines(), msgMassHolding)) == 0 && time.Since(removed) < 10*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	if got, _ := w.Snapshot().Get(q); ports(got) != "[8001 8002 8003 8004 8005]" && time.Since(removed) < removalHold {
		t.Fatalf("the mass removal was delivered within its hold: %s", ports(got))
	}
	h.waitPorts(q, "[8005]")
	took := time.Since(removed)
	if took < removalHold {
		t.Errorf("mass removal delivered %v after it happened, want after the %v hold", took, removalHold)
	}
	l := logged(h.logLines(), msgMassHolding)
	if len(l) != 1 || l[0]["items_before"] != 5.0 || l[0]["items_now"] != 1.0 {
		t.Errorf("mass-removal warnings %v", l)
	}
	t.Logf("every instance critical: kept 5; 4 of 5 deregistered: delivered after %v (hold %v)", took.Round(time.Millisecond), removalHold)
	want := "keep_last health.service(web|passing) true; keep_last health.service(web|passing) false; " +
		"mass_removal health.service(web|passing) true; mass_removal health.service(web|passing) false"
	if got := guards.String(); got != want {
		t.Errorf("Guarded calls %q, want %q", got, want)
	}
}
