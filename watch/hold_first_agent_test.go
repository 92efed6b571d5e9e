package watch

import (
	"fmt"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
	"github.com/hashicorp/consul/api"
)

// TestHoldFirstAnswerAgentStarting starts the watch before its agent, as a
// node reboot does: the first requests are refused, then the new agent
// answers an empty catalog until the instance registers, about a second
// later. The empty list must never be delivered.
func TestHoldFirstAnswerAgentStarting(t *testing.T) {
	agentTest(t)
	a := testenv.NewConsul(t)

	h, q := watchWeb(t, a.Client, Options{
		HoldEmpty: 5 * time.Second, WaitTime: 10 * time.Second,
		Backoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	})
	w, logs := h.w, h.logs

	// The agent is not there yet: wait for a refused request.
	deadline := time.Now().Add(10 * time.Second)
	for len(logged(h.logLines(), "consul query failed, retrying")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no failed request before the agent started:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}

	a.Start(t)
	// The watcher retries every 200ms at most, so it sees the empty
	// catalog before the instance registers.
	time.Sleep(time.Second)
	if m := w.Snapshot().Missing([]Dependency{q}); len(m) != 1 {
		t.Errorf("the empty first answer counts as answered:\n%s", logs)
	}
	err := a.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: "web-1", Name: "web", Port: 8001,
	})
	if err != nil {
		t.Fatalf("register web-1: %v", err)
	}
	h.waitPorts(q, "[8001]")

	all := h.logLines()
	if got := fmt.Sprint(delivered(all, q)); got != "[1]" {
		t.Errorf("delivered item counts %s, want [1]: the empty catalog got through\n%s", got, logs)
	}
	held := logged(all, msgHolding)
	if len(held) != 1 || held[0]["first_answer"] != true {
		t.Errorf("holding warnings %v, want one for the first answer:\n%s", held, logs)
	}
	if r := logged(all, msgReleased); len(r) != 0 {
		t.Errorf("a held answer outlived the hold: %v", r)
	}
	t.Logf("held while the agent started: %v", held)
}
