package apply

import (
	"testing"

	"github.com/harender/harender/haproxy"
)

func TestMoveOnOldHAProxyDrainsFirst(t *testing.T) {
	r := newRig(t, nil)
	r.hap.major = 2
	r.startRunning(gatewayConfig("", "a:8001", "b:8002"))
	r.apply(gatewayConfig("", "a:8001", "b:8002"))
	r.hap.calls = nil
	r.hap.conns = map[string]haproxy.ServerConns{"be/b": {Used: 1, Idle: 3}}
	if err := r.apply(gatewayConfig("", "a:8001", "b:9002")); err != nil {
		t.Fatal(err)
	}
	b := r.hap.find("be/b")
	if !b.Maint() || b.Port != 8002 {
		t.Fatalf("b = %+v, want in maintenance at its old port while it drains", b)
	}
	// Still connections: it waits, in maintenance.
	r.clock.Advance(moveDrainPoll)
	if !r.woken() {
		t.Fatal("no wake-up to look at the draining move again")
	}
	r.e.Converge(t.Context(), "tick")
	if b := r.hap.find("be/b"); !b.Maint() || b.Port != 8002 {
		t.Fatalf("b = %+v, moved while it still had connections", b)
	}
	// Drained: it moves and comes back.
	r.hap.conns = nil
	r.clock.Advance(moveDrainPoll)
	r.e.Converge(t.Context(), "tick")
	if b := r.hap.find("be/b"); b.Maint() || b.Port != 9002 {
		t.Fatalf("b = %+v, want ready at 9002", b)
	}
	if n := r.hap.count("reload"); n != 0 {
		t.Errorf("reloads = %d, want none: %v", n, r.hap.calls)
	}
	if ok, why := r.e.Health(); !ok {
		t.Errorf("health: %s", why)
	}
}

func TestMoveThatNeverDrainsReloads(t *testing.T) {
	r := newRig(t, nil)
	r.hap.major = 2
	r.startRunning(gatewayConfig("", "a:8001", "b:8002"))
	r.apply(gatewayConfig("", "a:8001", "b:8002"))
	r.hap.calls = nil
	r.hap.conns = map[string]haproxy.ServerConns{"be/b": {Idle: 1}}
	r.apply(gatewayConfig("", "a:8001", "b:9002"))
	for range int(moveDrainLimit/moveDrainPoll) + 2 {
		r.clock.Advance(moveDrainPoll)
		r.e.Converge(t.Context(), "tick")
	}
	if n := r.hap.count("reload"); n != 1 {
		t.Fatalf("reloads = %d, want 1 once the drain took too long: %v", n, r.hap.calls)
	}
	if b := r.hap.find("be/b"); b == nil || b.Port != 9002 || b.Maint() {
		t.Errorf("b = %+v, want ready at 9002 after the reload", b)
	}
}
