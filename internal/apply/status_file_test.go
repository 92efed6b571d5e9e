package apply

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readWeight(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestWeightFileFollowsHAProxy(t *testing.T) {
	var weight string
	r := newRig(t, func(o *Options) {
		o.Start = true
		weight = filepath.Join(filepath.Dir(o.Config), "vrrp-weight")
		o.VRRPWeightFile = weight
	})
	if got := readWeight(t, weight); got != "-254" {
		t.Fatalf("before the first apply: %q, want -254 (the node must not take the VIP yet)", got)
	}
	if err := r.apply(gatewayConfig("", "a:8001")); err != nil {
		t.Fatal(err)
	}
	if got := readWeight(t, weight); got != "0" {
		t.Fatalf("HAProxy started and applied: %q, want 0", got)
	}

	// HAProxy dies: the file says so before any converge runs.
	r.hap.die()
	deadline := time.Now().Add(5 * time.Second)
	for readWeight(t, weight) != "-254" {
		if time.Now().After(deadline) {
			t.Fatal("HAProxy died; the weight file still says 0")
		}
		time.Sleep(time.Millisecond)
	}
	// A start that fails keeps the fault.
	r.hap.refuse = true
	waitWake(t, r)
	r.e.Converge(t.Context(), "tick")
	if got := readWeight(t, weight); got != "-254" {
		t.Fatalf("HAProxy failed to start: %q, want -254", got)
	}
	r.hap.refuse = false
	r.clock.Advance(time.Second)
	if err := r.e.Converge(t.Context(), "tick"); err != nil {
		t.Fatal(err)
	}
	if got := readWeight(t, weight); got != "0" {
		t.Fatalf("HAProxy started again: %q, want 0", got)
	}

	// A candidate haproxy -c rejects leaves HAProxy serving the last good
	// config: not a reason to give the VIP up (both nodes render the same).
	if err := r.apply(gatewayConfig("bogus\n", "a:8001")); err == nil {
		t.Fatal("bogus config applied")
	}
	if got := readWeight(t, weight); got != "0" {
		t.Fatalf("after a rejected candidate: %q, want 0", got)
	}

	// A refused reload is an apply that fails.
	r.hap.refuse = true
	r.clock.Advance(time.Minute)
	r.apply(gatewayConfig("    timeout client 5s\n", "a:8001"))
	if ok, _ := r.e.Health(); ok {
		t.Fatal("refused reload: engine healthy")
	}
	if got := readWeight(t, weight); got != "-254" {
		t.Fatalf("reload refused: %q, want -254", got)
	}
	r.hap.refuse = false
	r.clock.Advance(time.Minute)
	if err := r.e.Converge(t.Context(), "tick"); err != nil {
		t.Fatal(err)
	}
	if got := readWeight(t, weight); got != "0" {
		t.Fatalf("reload went through: %q, want 0", got)
	}

	// Stopping: the VIP is given up, then HAProxy is stopped after the
	// hand-over delay.
	r.e.o.VRRPHandoverDelay = 300 * time.Millisecond
	proc := r.hap.proc
	closed := make(chan struct{})
	go func() { r.e.Close(t.Context()); close(closed) }()
	deadline = time.Now().Add(5 * time.Second)
	for readWeight(t, weight) != "-254" {
		if time.Now().After(deadline) {
			t.Fatal("stopping: the weight file still says 0")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-proc.Done():
		t.Fatal("HAProxy stopped without waiting for the peer to take the VIP")
	default:
	}
	<-closed
	select {
	case <-proc.Done():
	default:
		t.Fatal("Close returned; HAProxy not stopped")
	}
	ents, _ := os.ReadDir(filepath.Dir(weight))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".vrrp-weight") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}
