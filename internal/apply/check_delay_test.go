package apply

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestAsyncCheckOncePerBurst: with a check delay, each candidate of a
// burst reaches HAProxy at once, and haproxy -c runs once, for the last,
// when the burst pauses; under churn that never pauses, it still runs
// within CheckDelayMax.
func TestAsyncCheckOncePerBurst(t *testing.T) {
	r := newRig(t, func(o *Options) {
		o.CheckAsync, o.CheckDelay, o.CheckDelayMax = true, 300*time.Millisecond, 2*time.Second
	})
	r.startRunning(gatewayConfig("", "a:8001"))
	if err := r.apply(gatewayConfig("", "a:8001")); err != nil {
		t.Fatal(err)
	}
	checks := r.hap.count("check")
	servers := []string{"a:8001"}
	for _, s := range []string{"b:8002", "c:8003", "d:8004"} {
		servers = append(servers, s)
		if err := r.apply(gatewayConfig("", servers...)); err != nil {
			t.Fatal(err)
		}
		name, _, _ := strings.Cut(s, ":")
		if r.hap.find("be/"+name) == nil {
			t.Fatalf("%s is not in haproxy when apply returned", name)
		}
		r.clock.Advance(100 * time.Millisecond)
	}
	if n := r.hap.count("check") - checks; n != 0 {
		t.Fatalf("%d checks during the burst, want none yet", n)
	}
	r.clock.Advance(300 * time.Millisecond)
	r.settle(func() bool { b, _ := os.ReadFile(r.cfg); return strings.Contains(string(b), "server d ") })
	if n := r.hap.count("check") - checks; n != 1 {
		t.Fatalf("%d checks for a burst of 3 candidates, want 1", n)
	}

	// Churn with no pause: a check still runs within CheckDelayMax.
	checks = r.hap.count("check")
	for i := range 10 {
		servers = append(servers, "e"+string(rune('0'+i))+":"+string(rune('0'+i))+"900")
		if err := r.apply(gatewayConfig("", servers...)); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(250 * time.Millisecond)
	}
	r.settle(func() bool { return r.hap.count("check") > checks })
}

// settle converges on every wake until done holds, for up to 5 s.
func (r *rig) settle(done func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			r.t.Fatalf("not settled after 5s")
		}
		select {
		case <-r.e.Wake():
			if err := r.e.Converge(r.t.Context(), "wake"); err != nil {
				r.t.Fatal(err)
			}
		case <-time.After(50 * time.Millisecond):
		}
	}
}
