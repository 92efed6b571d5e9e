package apply

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/haproxy"
)

func TestMembershipGoesThroughRuntime(t *testing.T) {
	r := newRig(t, nil)
	r.startRunning(gatewayConfig("", "a:8001", "b:8002"))
	r.restart()
	if err := r.apply(gatewayConfig("", "a:8001", "b:8002")); err != nil {
		t.Fatal(err)
	}
	// No record of what HAProxy loaded: one reload, then it is known.
	if n := r.hap.count("reload"); n != 1 {
		t.Fatalf("reloads = %d, want 1 to learn what HAProxy runs", n)
	}
	if err := r.apply(gatewayConfig("", "a:8001", "b:8002", "c:8003")); err != nil {
		t.Fatal(err)
	}
	if err := r.apply(gatewayConfig("", "a:8001", "c:8003")); err != nil {
		t.Fatal(err)
	}
	if n := r.hap.count("reload"); n != 1 {
		t.Errorf("membership changes reloaded: %v", r.hap.calls)
	}
	if r.hap.find("be/c") == nil || r.hap.find("be/b") != nil {
		t.Errorf("servers = %+v, want a and c", r.hap.servers)
	}
	if ok, why := r.e.Health(); !ok {
		t.Errorf("health: %s", why)
	}
}

func TestStructuralChangesMergeWithinMinReloadInterval(t *testing.T) {
	r := newRig(t, nil)
	r.startRunning(gatewayConfig("", "a:8001"))
	r.apply(gatewayConfig("", "a:8001")) // learns what runs: one reload
	r.apply(gatewayConfig("    timeout client 31s\n", "a:8001"))
	r.apply(gatewayConfig("    timeout client 32s\n", "a:8001"))
	if n := r.hap.count("reload"); n != 1 {
		t.Fatalf("reloads = %d within min_reload_interval, want 1 (the first)", n)
	}
	if !r.e.Pending() {
		t.Fatal("a deferred reload is not pending")
	}
	r.clock.Advance(time.Second)
	if !r.woken() {
		t.Fatal("no wake-up when the deferred reload came due")
	}
	if err := r.e.Converge(t.Context(), "tick"); err != nil {
		t.Fatal(err)
	}
	if n := r.hap.count("reload"); n != 2 {
		t.Fatalf("reloads = %d, want 2: two changes merged into one", n)
	}
	if r.e.Pending() {
		t.Error("still pending after the reload")
	}
	rec, _ := readLoaded(r.cfg)
	if !strings.Contains(string(rec.config), "32s") {
		t.Errorf("record does not hold the last config")
	}
}

func TestRefusedReloadPutsBackTheRunningConfig(t *testing.T) {
	r := newRig(t, nil)
	good := gatewayConfig("", "a:8001")
	r.startRunning(good)
	r.apply(good)
	r.clock.Advance(2 * time.Second)
	r.hap.refuse = true
	next := gatewayConfig("    timeout client 31s\n", "a:8001")
	err := r.apply(next)
	if err == nil || !strings.Contains(err.Error(), "cannot bind socket") {
		t.Fatalf("err = %v, want HAProxy's own words", err)
	}
	if b, _ := os.ReadFile(r.cfg); string(b) != good {
		t.Errorf("file on disk is not the config HAProxy runs:\n%s", b)
	}
	if ok, why := r.e.Health(); ok || !strings.Contains(why, "refused") {
		t.Errorf("health = %v %q", ok, why)
	}
	// Retried after backoff; this time HAProxy takes it.
	r.hap.refuse = false
	r.clock.Advance(time.Second)
	if !r.woken() {
		t.Fatal("no retry scheduled")
	}
	if err := r.e.Converge(t.Context(), "tick"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(r.cfg); string(b) != next {
		t.Errorf("file on disk is not the new config after the retry")
	}
	if ok, why := r.e.Health(); !ok {
		t.Errorf("health: %s", why)
	}
}

func TestReturningServerLeavesMaintenance(t *testing.T) {
	r := newRig(t, nil)
	r.startRunning(gatewayConfig("", "a:8001", "b:8002"))
	r.apply(gatewayConfig("", "a:8001", "b:8002"))
	r.hap.busy["be/b"] = true
	if err := r.apply(gatewayConfig("", "a:8001")); err != nil {
		t.Fatal(err)
	}
	if s := r.hap.find("be/b"); s == nil || !s.Maint() {
		t.Fatalf("busy server b = %+v, want kept in maintenance", s)
	}
	// b passes again before it could be deleted. It is set ready before
	// haproxy -c checks the candidate, as any server change is, and its
	// delete is not retried.
	r.hap.calls = nil
	if err := r.apply(gatewayConfig("", "a:8001", "b:8002")); err != nil {
		t.Fatal(err)
	}
	if s := r.hap.find("be/b"); s == nil || s.Maint() {
		t.Fatalf("returned server b = %+v, want ready", s)
	}
	if ready, check := r.hap.callIndex("set be/b"), r.hap.callIndex("check"); ready < 0 || check < ready {
		t.Errorf("calls %v: want b set ready before the check", r.hap.calls)
	}
	r.clock.Advance(busyRetry)
	if r.woken() {
		r.e.Converge(t.Context(), "tick")
	}
	if s := r.hap.find("be/b"); s == nil || s.Maint() || r.hap.count("del be/b") != 0 {
		t.Errorf("b = %+v after the busy retry's time, calls %v: want ready, never deleted", s, r.hap.calls)
	}
	if n := r.hap.count("reload"); n != 0 {
		t.Errorf("a returning server reloaded: %v", r.hap.calls)
	}
}

func TestBusyDeleteIsRetriedWithoutBlocking(t *testing.T) {
	r := newRig(t, nil)
	r.startRunning(gatewayConfig("", "a:8001", "b:8002"))
	r.apply(gatewayConfig("", "a:8001", "b:8002"))
	r.hap.busy["be/b"] = true
	r.apply(gatewayConfig("", "a:8001"))
	if n := r.hap.count("del be/b"); n != 1 {
		t.Fatalf("del attempts = %d, want 1 (no waiting inside apply)", n)
	}
	r.clock.Advance(busyRetry)
	if !r.woken() {
		t.Fatal("no retry for the busy server")
	}
	r.hap.busy["be/b"] = false
	r.e.Converge(t.Context(), "tick")
	if r.hap.find("be/b") != nil {
		t.Error("b not deleted once idle")
	}
}

func TestDriftRepairedOnTick(t *testing.T) {
	r := newRig(t, nil)
	r.startRunning(gatewayConfig("", "a:8001", "b:8002"))
	r.apply(gatewayConfig("", "a:8001", "b:8002"))
	// Someone disables a server and changes a weight by hand.
	r.hap.find("be/a").AdminState |= haproxy.AdminForcedMaint
	r.hap.find("be/b").UWeight = 7
	r.clock.Advance(10 * time.Second)
	if !r.woken() {
		t.Fatal("no reconcile tick")
	}
	if err := r.e.Converge(t.Context(), "tick"); err != nil {
		t.Fatal(err)
	}
	if a, b := r.hap.find("be/a"), r.hap.find("be/b"); a.Maint() || b.UWeight != 1 {
		t.Errorf("a = %+v, b = %+v: drift not repaired", a, b)
	}
	if got := r.drift(driftServers); got != 1 {
		t.Errorf("drift{servers} = %v, want 1", got)
	}
	// Someone edits the file on disk.
	os.WriteFile(r.cfg, []byte("edited"), 0o644)
	r.e.Converge(t.Context(), "tick")
	if b, _ := os.ReadFile(r.cfg); string(b) != gatewayConfig("", "a:8001", "b:8002") {
		t.Error("hand edit not put back")
	}
	if got := r.drift(driftFile); got != 1 {
		t.Errorf("drift{file} = %v, want 1", got)
	}
}

func TestRestartFindsPendingReload(t *testing.T) {
	r := newRig(t, func(o *Options) { o.MinReloadInterval = 20 * time.Second })
	r.startRunning(gatewayConfig("", "a:8001"))
	r.apply(gatewayConfig("", "a:8001"))
	r.apply(gatewayConfig("    timeout client 31s\n", "a:8001")) // deferred
	if n := r.hap.count("reload"); n != 1 {
		t.Fatalf("reloads = %d", n)
	}
	// harender stops before the deferred reload, and starts again.
	r.restart()
	if err := r.apply(gatewayConfig("    timeout client 31s\n", "a:8001")); err != nil {
		t.Fatal(err)
	}
	if n := r.hap.count("reload"); n != 2 {
		t.Fatalf("reloads = %d after restart, want the lost one made", n)
	}
	if got := r.drift(driftConfig); got != 1 {
		t.Errorf("drift{config} = %v, want 1", got)
	}
	// A restart with nothing owed reloads nothing.
	r.restart()
	r.apply(gatewayConfig("    timeout client 31s\n", "a:8001"))
	if n := r.hap.count("reload"); n != 2 {
		t.Errorf("a restart with nothing owed reloaded")
	}
}

func TestOutsideReloadIsNoticed(t *testing.T) {
	r := newRig(t, nil)
	r.startRunning(gatewayConfig("", "a:8001"))
	r.apply(gatewayConfig("", "a:8001"))
	r.hap.reloads++ // systemctl reload, from a file someone else wrote
	r.clock.Advance(10 * time.Second)
	r.e.Converge(t.Context(), "tick")
	if n := r.hap.count("reload"); n != 2 {
		t.Errorf("reloads = %d, want 2: HAProxy's config is unknown after an outside reload", n)
	}
}

func TestSupervisedHAProxyIsStartedAndRestarted(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Start = true })
	if err := r.apply(gatewayConfig("", "a:8001")); err != nil {
		t.Fatal(err)
	}
	if !r.hap.running || r.hap.count("start") != 1 || r.hap.count("reload") != 0 {
		t.Fatalf("calls = %v, want one start and no reload", r.hap.calls)
	}
	// harender restarts; HAProxy was stopped with it.
	r.e.Close(t.Context())
	r.hap.running = false
	r.restart()
	r.apply(gatewayConfig("", "a:8001"))
	if !r.hap.running {
		t.Fatal("unchanged file at restart: HAProxy not started")
	}
	// HAProxy dies; the first start fails, the second works.
	r.hap.die()
	r.hap.refuse = true
	waitWake(t, r)
	if err := r.e.Converge(t.Context(), "tick"); err == nil || !strings.Contains(err.Error(), "cannot bind") {
		t.Fatalf("err = %v, want the failed start", err)
	}
	if ok, why := r.e.Health(); ok || !strings.Contains(why, "haproxy") {
		t.Errorf("health = %v %q", ok, why)
	}
	r.hap.refuse = false
	r.clock.Advance(time.Second)
	r.e.Converge(t.Context(), "tick")
	if !r.hap.running || r.hap.count("start") != 4 {
		t.Errorf("calls = %v, want HAProxy started again", r.hap.calls)
	}
	if got := r.drift(driftNotRunning); got != 1 {
		t.Errorf("drift{not_running} = %v, want 1: the death, not the start after harender's restart", got)
	}
}

func waitWake(t *testing.T, r *rig) {
	t.Helper()
	select {
	case <-r.e.Wake():
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up")
	}
}

func TestNoMasterSocketStillFollowsMembership(t *testing.T) {
	r := newRig(t, func(o *Options) { o.MasterSocket = "" })
	r.startRunning(gatewayConfig("", "a:8001"))
	r.apply(gatewayConfig("", "a:8001"))
	r.apply(gatewayConfig("    timeout client 31s\n", "a:8001"))
	if ok, why := r.e.Health(); ok || !strings.Contains(why, "master_socket") {
		t.Errorf("health = %v %q, want the owed reload reported", ok, why)
	}
	if err := r.apply(gatewayConfig("    timeout client 31s\n", "a:8001", "b:8002")); err != nil {
		t.Fatal(err)
	}
	if r.hap.find("be/b") == nil {
		t.Error("membership refused while a reload is owed")
	}
}

func TestMoveOfOnlyServerOnOldHAProxyReloads(t *testing.T) {
	r := newRig(t, nil)
	r.hap.major = 2
	r.startRunning(gatewayConfig("", "a:8001"))
	r.apply(gatewayConfig("", "a:8001"))
	r.clock.Advance(2 * time.Second)
	r.apply(gatewayConfig("", "a:9001"))
	if n := r.hap.count("reload"); n != 2 || r.hap.count("set be/a addr") != 0 {
		t.Errorf("calls = %v, want a reload and no runtime move on 2.x", r.hap.calls)
	}
	if s := r.hap.find("be/a"); s.Port != 9001 {
		t.Errorf("a = %+v", s)
	}
}

func TestCompanionFileCheckedWithItsConfig(t *testing.T) {
	r := newRig(t, nil)
	mapPath := r.dir + "/hosts.map"
	cfg := gatewayConfig("    http-request set-var(txn.x) str("+mapPath+")\n", "a:8001")
	outs := []Output{{Dest: mapPath, Data: []byte("/a be\n")}, {Dest: r.cfg, Data: []byte(cfg)}}
	// The config names the map; both are new. haproxy -c must see the map.
	if _, err := r.e.Commit(t.Context(), outs); err != nil {
		t.Fatalf("commit with a companion: %v", err)
	}
	// A rejected candidate puts the companion back.
	bad := []Output{{Dest: mapPath, Data: []byte("/b be\n")}, {Dest: r.cfg, Data: []byte(cfg + "    bogus\n")}}
	if _, err := r.e.Commit(t.Context(), bad); err == nil {
		t.Fatal("bogus config accepted")
	}
	if b, _ := os.ReadFile(mapPath); string(b) != "/a be\n" {
		t.Errorf("map = %q, want it put back", b)
	}
	if b, _ := os.ReadFile(r.cfg); string(b) != cfg {
		t.Errorf("config changed by a rejected candidate")
	}
	if _, err := os.Stat(r.cfg + ".candidate"); err != nil {
		t.Errorf("rejected candidate not kept: %v", err)
	}
}

func TestRejectionStaysUnhealthyUntilGoodCommit(t *testing.T) {
	r := newRig(t, nil)
	r.startRunning(gatewayConfig("", "a:8001"))
	r.apply(gatewayConfig("", "a:8001"))
	if err := r.apply(gatewayConfig("    bogus\n", "a:8001")); err == nil {
		t.Fatal("bogus accepted")
	}
	r.clock.Advance(10 * time.Second)
	r.e.Converge(t.Context(), "tick")
	if ok, why := r.e.Health(); ok || !strings.Contains(why, "rejected") {
		t.Errorf("health after a tick = %v %q, want the rejection still reported", ok, why)
	}
	r.apply(gatewayConfig("", "a:8001", "b:8002"))
	if ok, why := r.e.Health(); !ok {
		t.Errorf("health after a good commit: %s", why)
	}
}

func TestFailedWriteWakesForRetryEachTime(t *testing.T) {
	r := newRig(t, nil)
	out := []Output{{Dest: r.dir + "/missing/haproxy.cfg", Data: []byte("x")}}
	for i := range 3 {
		if _, err := r.e.Commit(t.Context(), out); err == nil {
			t.Fatal("write into a missing directory succeeded")
		}
		if !r.e.CommitFailed() {
			t.Fatal("CommitFailed is false after a failed write")
		}
		r.clock.Advance(commitRetry)
		if !r.woken() {
			t.Fatalf("attempt %d: no wake-up to retry the write", i+1)
		}
	}
}
