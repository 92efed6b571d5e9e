package watch

import (
	"fmt"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
	"github.com/hashicorp/consul/api"
)

// TestHoldAgentRestart restarts a real dev agent under a running watch.
// The new agent has an empty catalog until the instances are registered
// again, one by one; neither the empty nor a partial list may be delivered.
func TestHoldAgentRestart(t *testing.T) {
	agentTest(t)
	a := testenv.StartConsul(t)
	register := func() {
		t.Helper()
		for i := 1; i <= 3; i++ {
			err := a.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{
				ID: fmt.Sprintf("web-%d", i), Name: "web", Port: 8000 + i,
			})
			if err != nil {
				t.Fatalf("register web-%d: %v", i, err)
			}
		}
	}
	register()

	h, q := watchWeb(t, a.Client, Options{
		HoldEmpty: 5 * time.Second, WaitTime: 10 * time.Second,
		Backoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	})
	w, logs := h.w, h.logs
	h.waitPorts(q, "[8001 8002 8003]")
	// Let the next blocking query start (MinInterval is 100ms), so that
	// the restart interrupts it, as it does in production where a watch
	// spends nearly all its time blocked. A restart that fits entirely
	// between two queries is not seen at all (see hold.go).
	time.Sleep(500 * time.Millisecond)

	a.Restart(t)
	// Re-register within 1s, once the watcher has seen the empty catalog
	// (it retries every 200ms at most).
	seen := time.Now().Add(time.Second)
	for len(logged(h.logLines(), msgHolding)) == 0 && time.Now().Before(seen) {
		time.Sleep(10 * time.Millisecond)
	}
	register()
	self, err := a.Client.Agent().Self()
	if err != nil {
		t.Fatal(err)
	}
	newNode, _ := self["Config"]["NodeID"].(string)

	// Data arrives again, from the new agent (a dev agent gets a new node
	// ID on every start).
	deadline := time.After(20 * time.Second)
	for {
		v, _ := w.Snapshot().Get(q)
		if list, _ := v.([]*HealthService); len(list) == 3 && list[0].NodeID == newNode {
			break
		}
		select {
		case <-w.Updates():
		case <-deadline:
			t.Fatalf("no data from the new agent (node %s):\n%s", newNode, logs)
		}
	}
	before := delivered(h.logLines(), q)

	// Updates keep flowing: a deregistration shows at once.
	if err := a.Client.Agent().ServiceDeregister("web-3"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	h.waitPorts(q, "[8001 8002]")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("deregistration after the restart took %v", d)
	}

	for _, n := range before {
		if n != 3 {
			t.Errorf("a shrunken list reached the snapshot during the restart: item counts %v\n%s", before, logs)
			break
		}
	}
	all := h.logLines()
	if r := logged(all, msgReleased); len(r) != 0 {
		t.Errorf("a held answer outlived the hold: %v", r)
	}
	held := logged(all, msgHolding)
	if len(held) == 0 {
		t.Errorf("the new agent's empty catalog was never held:\n%s", logs)
	}
	t.Logf("held during the restart: %v; delivered item counts %v", held, delivered(all, q))
}
