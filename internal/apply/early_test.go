package apply

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/haproxy"
)

// callIndex is the position of the first call starting with prefix, or -1.
func (f *fakeHAProxy) callIndex(prefix string) int {
	f.callsMu.Lock()
	defer f.callsMu.Unlock()
	for i, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			return i
		}
	}
	return -1
}

func TestServersReachHAProxyBeforeTheCheck(t *testing.T) {
	r := newRig(t, nil)
	r.startRunning(gatewayConfig("", "a:8001"))
	if err := r.apply(gatewayConfig("", "a:8001")); err != nil {
		t.Fatal(err)
	}
	r.hap.calls = nil
	if err := r.apply(gatewayConfig("", "a:8001", "b:8002")); err != nil {
		t.Fatal(err)
	}
	add, check := r.hap.callIndex("add be/b"), r.hap.callIndex("check")
	if add < 0 || check < 0 || add > check {
		t.Fatalf("calls %v: want add be/b before the check", r.hap.calls)
	}
	if n := r.hap.count("add be/b"); n != 1 {
		t.Errorf("add be/b sent %d times, want 1: %v", n, r.hap.calls)
	}
	if n := r.hap.count("reload"); n != 0 {
		t.Errorf("reloads = %d, want none", n)
	}
	// A structural change goes check first: nothing is sent before it.
	r.hap.calls = nil
	if err := r.apply(gatewayConfig("    http-request set-header X-A 1\n", "a:8001", "b:8002", "c:8003")); err != nil {
		t.Fatal(err)
	}
	if c, add := r.hap.callIndex("check"), r.hap.callIndex("add be/c"); c != 0 || add < c {
		t.Errorf("calls %v: want the check first", r.hap.calls)
	}
}

func TestRefusedCandidateTakesEarlyServersBack(t *testing.T) {
	r := newRig(t, nil)
	r.startRunning(gatewayConfig("", "a:8001"))
	if err := r.apply(gatewayConfig("", "a:8001")); err != nil {
		t.Fatal(err)
	}
	// The fake haproxy -c refuses any config naming "bogus".
	err := r.apply(gatewayConfig("", "a:8001", "bogus:8002"))
	var ce *haproxy.CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("apply = %v, want the check's refusal", err)
	}
	if r.hap.callIndex("add be/bogus") < 0 {
		t.Fatalf("calls %v: the server never went out early, so this test shows nothing", r.hap.calls)
	}
	if s := r.hap.find("be/bogus"); s != nil {
		t.Errorf("refused server still in haproxy: %+v", s)
	}
	if r.hap.find("be/a") == nil {
		t.Error("server a lost")
	}
	if ok, _ := r.e.Health(); ok {
		t.Error("healthy after a refused candidate")
	}
}

// waitWake waits for the engine to ask for a Converge.
func (r *rig) waitWake() {
	r.t.Helper()
	select {
	case <-r.e.Wake():
	case <-time.After(5 * time.Second):
		r.t.Fatal("no wake-up")
	}
}

func TestAsyncCheckCommitsAfterHAProxyServes(t *testing.T) {
	r := newRig(t, func(o *Options) { o.CheckAsync = true })
	r.startRunning(gatewayConfig("", "a:8001"))
	if err := r.apply(gatewayConfig("", "a:8001")); err != nil {
		t.Fatal(err)
	}
	changed, err := r.e.Apply(t.Context(), []Output{{Dest: r.cfg, Data: []byte(gatewayConfig("", "a:8001", "b:8002"))}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 || changed[0] != r.cfg {
		t.Errorf("apply reported %v changed, want the config (its render is a change)", changed)
	}
	if r.hap.find("be/b") == nil {
		t.Fatal("b not in haproxy when apply returned")
	}
	r.waitWake()
	if err := r.e.Converge(t.Context(), "wake"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(r.cfg); !strings.Contains(string(b), "server b ") {
		t.Errorf("the checked candidate was not committed:\n%s", b)
	}
	if n := r.hap.count("check"); n != 1 {
		t.Errorf("checks = %d, want 1 (the commit reuses the background check)", n)
	}
	if ok, why := r.e.Health(); !ok {
		t.Errorf("health: %s", why)
	}
	// A refused candidate: its server leaves HAProxy again; the file stays.
	if err := r.apply(gatewayConfig("", "a:8001", "b:8002", "bogus:8003")); err != nil {
		t.Fatal(err)
	}
	r.waitWake()
	err = r.e.Converge(t.Context(), "wake")
	var ce *haproxy.CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("converge = %v, want the refusal", err)
	}
	if r.hap.find("be/bogus") != nil || r.hap.find("be/b") == nil {
		t.Errorf("servers = %+v, want a and b only", r.hap.servers)
	}
	if b, _ := os.ReadFile(r.cfg); strings.Contains(string(b), "bogus") {
		t.Error("a refused candidate reached the file")
	}
}
