package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/apply"
	"github.com/harender/harender/internal/testenv"
)

// TestFaultMasterRestartedBySupervisor is fault-table row 5: an HAProxy
// that harender does not run (start = false; a supervisor such as systemd
// does) is killed with SIGKILL under load, just after a template edit that
// needs a reload, and started again a second later on the same files, as
// Restart=always would; an instance registers during the gap. harender
// must see a master it has no record of (show proc's pid and reload count
// differ from haproxy.cfg.loaded), reload it once onto the rendered config
// and apply what is pending. The requests the gap itself fails are
// counted, not asserted: no one can serve them.
func TestFaultMasterRestartedBySupervisor(t *testing.T) {
	forEachFaultHAProxy(t, func(t *testing.T, bin string) {
		consul, _ := startGateways(t, 2)
		s := supervisedSetup(t, consul.Addr, bin)
		hap := renderAndStartHAProxy(t, bin, s)
		r, url := startServing(t, s, 2)
		old := masterPID(t, s.master)
		reloadsBefore := r.metric(t, okReloads)

		wrk := testenv.StartWrk(t, "-t1", "-c16", "-d12s", url)
		time.Sleep(2 * time.Second)

		// A change that needs a reload, then the kill: the reload for it
		// races the kill, or finds no master.
		text, _ := os.ReadFile(s.source)
		writeFile(t, s.source, string(text)+"    http-response set-header X-Fault edited\n")
		time.Sleep(20 * time.Millisecond)
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		hap.Stop() // reap it, and its workers, as the supervisor would
		testenv.StartGateway(t, consul, "gateway", "gw-3")
		time.Sleep(time.Until(killed.Add(time.Second)))
		os.Remove(s.master) // left behind by the killed master
		testenv.StartHAProxy(t, bin, s.haproxyCfg)
		restarted := time.Now()
		fresh := masterPID(t, s.master)
		t.Logf("master %d killed; %d started by the test %s later", old, fresh, restarted.Sub(killed).Round(time.Millisecond))

		var reloaded time.Duration
		for deadline := restarted.Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			p, err := (&haproxy.Master{Path: s.master}).ShowProc(t.Context())
			if err == nil && p.Master.PID == fresh && p.Master.Reloads >= 1 && reloaded == 0 {
				reloaded = time.Since(restarted)
			}
			got, _ := testenv.Answers(url, 6)
			if reloaded > 0 && got["hello from gw-3"] > 0 && haproxyHeader(s.bind, "X-Fault") == "edited" && r.healthy() {
				break
			}
		}
		applied := time.Since(restarted)
		res, err := wrk.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // a second reload would show by now
		after, err := (&haproxy.Master{Path: s.master}).ShowProc(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		reloads := r.metric(t, okReloads) - reloadsBefore
		rendered, _ := os.ReadFile(s.haproxyCfg)
		loaded, _ := os.ReadFile(s.haproxyCfg + apply.LoadedSuffix)
		head, _, _ := strings.Cut(string(loaded), "\n")
		t.Logf("wrk: %s", res)
		t.Logf("new master reloaded %s after its start (show proc: %d reloads); all applied after %s; harender reloads since the kill: %.0f; record: %s",
			reloaded.Round(time.Millisecond), after.Master.Reloads, applied.Round(time.Millisecond), reloads, head)

		// Nothing lost: the rendered file is whole, HAProxy accepts it, and
		// it holds every change. haproxy.cfg.loaded holds the config of the
		// reload; gw-3 may have come later through the runtime API.
		lost := haproxy.Check(t.Context(), bin, s.haproxyCfg) != nil ||
			!strings.Contains(string(rendered), "server gw-3 ") || !strings.Contains(string(rendered), "X-Fault edited")
		if lost {
			t.Errorf("the rendered haproxy.cfg is unloadable or misses a change:\n%s", rendered)
		}
		noticed := strings.Contains(r.Logs(), "HAProxy was restarted or reloaded outside harender")
		did := fmt.Sprintf("saw master %d it had no record of; reloaded it %d time(s), %.1fs after its start, onto the rendered config (template edit and gw-3 applied)",
			fresh, after.Master.Reloads, reloaded.Seconds())
		if reloaded == 0 {
			did = "did not reload the new master within 60s"
		}
		// wrk counts every refused reconnect during the gap as a failed
		// request: the count is attempts, not clients.
		faultRow{Fault: fmt.Sprintf("HAProxy master kill -9 under load, up again %.1fs later by its supervisor, changes pending", restarted.Sub(killed).Seconds()),
			Did: did, Load: res, ConfigLost: lost}.report(t, bin)

		if !noticed {
			t.Errorf("harender did not log the new master as restarted outside harender\n%s", r.Logs())
		}
		if reloaded == 0 {
			t.Fatalf("the new master %d was never reloaded\n%s", fresh, r.Logs())
		}
		if after.Master.PID != fresh || after.Master.Reloads != 1 {
			t.Errorf("show proc: master %d with %d reloads, want %d reloaded once", after.Master.PID, after.Master.Reloads, fresh)
		}
		if want := fmt.Sprintf("HAProxy master pid %d, reload %d,", fresh, after.Master.Reloads); !strings.Contains(head, want) {
			t.Errorf("haproxy.cfg.loaded header %q, want %q", head, want)
		}
		if got, _ := testenv.Answers(url, 9); got["hello from gw-3"] == 0 || haproxyHeader(s.bind, "X-Fault") != "edited" {
			t.Errorf("pending changes not applied: answers %v, X-Fault %q", got, haproxyHeader(s.bind, "X-Fault"))
		}
		if !r.healthy() {
			_, why := healthz(t, r)
			t.Errorf("/healthz 503 once all is applied: %s", why)
		}
		if t.Failed() {
			t.Logf("harender:\n%s", r.Logs())
		}
	})
}
