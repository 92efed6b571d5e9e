package apply

import (
	"errors"
	"io/fs"
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

// TestSupersededCheckIsNotWaitedFor: a newer candidate's servers reach
// HAProxy while the check it superseded is still being killed; the
// superseded candidate's file goes, and a newer one staged in its place
// stays.
func TestSupersededCheckIsNotWaitedFor(t *testing.T) {
	r := newRig(t, func(o *Options) { o.CheckAsync = true })
	r.startRunning(gatewayConfig("", "a:8001"))
	if err := r.apply(gatewayConfig("", "a:8001")); err != nil {
		t.Fatal(err)
	}
	exit := make(chan struct{})
	r.hap.slowExit = exit
	// Let the killed check exit once c has reached HAProxy, or after 2 s.
	go func() {
		defer close(exit)
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if r.hap.callIndex("add be/c") >= 0 {
				return
			}
		}
	}()
	if err := r.apply(gatewayConfig("", "a:8001", "b:8002")); err != nil {
		t.Fatal(err)
	}
	for r.hap.callIndex("check") < 0 { // b's check is running
		time.Sleep(time.Millisecond)
	}
	if err := r.apply(gatewayConfig("", "a:8001", "b:8002", "c:8003")); err != nil {
		t.Fatal(err)
	}
	add, exited := r.hap.callIndex("add be/c"), r.hap.callIndex("check exited")
	if add < 0 || exited < 0 || exited < add {
		t.Errorf("calls %v: want add be/c before the superseded check exited", r.hap.calls)
	}
	if b, err := os.ReadFile(r.cfg + ".candidate"); err != nil || !strings.Contains(string(b), "server c ") {
		t.Errorf("the newer candidate's file: %q, %v", b, err)
	}

	// Back to the committed config: nothing is staged, and the superseded
	// candidate's file goes.
	if err := r.apply(gatewayConfig("", "a:8001")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.cfg + ".candidate"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the superseded candidate is left on disk: %v", err)
	}
	if r.hap.find("be/b") != nil || r.hap.find("be/c") != nil {
		t.Errorf("servers = %+v, want a only", r.hap.servers)
	}
}
