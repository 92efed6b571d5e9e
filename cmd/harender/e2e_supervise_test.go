package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
)

// TestRunStartsHAProxyAfterRestart stops harender, which stops the HAProxy
// it started, and starts it again on the same files: HAProxy must be
// started again even though nothing is left to render (issue 6, case 2).
func TestRunStartsHAProxyAfterRestart(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, _ := startGateways(t, 1)
		s, _ := runSetup(t, consul.Addr, bin, "")

		r, _ := startServing(t, s, 1)
		first := masterPID(t, s.master)
		if code := r.stop(t); code != exitOK {
			t.Fatalf("harender run exited %d\n%s", code, r.Logs())
		}
		if c, err := net.DialTimeout("tcp", s.bind, time.Second); err == nil {
			c.Close()
			t.Fatalf("something still listens on %s after harender stopped", s.bind)
		}
		if alive(first) {
			t.Fatalf("haproxy master %d still runs after harender stopped", first)
		}
		rendered, err := os.ReadFile(s.haproxyCfg)
		if err != nil {
			t.Fatal(err)
		}

		startServing(t, s, 1)
		if second := masterPID(t, s.master); second == first {
			t.Errorf("show proc reports the old master %d", first)
		}
		if now, _ := os.ReadFile(s.haproxyCfg); string(now) != string(rendered) {
			t.Errorf("the restart rewrote haproxy.cfg, which had nothing to change:\n%s", now)
		}
	})
}

// TestRunHAProxyThatCannotStart starts harender with the frontend's port
// taken: it must say so (503, and HAProxy's own words in an error line),
// and start HAProxy once the port is free (issue 6, case 3).
func TestRunHAProxyThatCannotStart(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, _ := startGateways(t, 1)
		s, _ := runSetup(t, consul.Addr, bin, "")
		held := holdPort(t, s.bind)

		r := startRun(t, s.config)
		var body string
		waitFor(t, r, "/healthz to say haproxy is down", func() bool {
			var code int
			code, body = healthz(t, r)
			return code == 503 && strings.Contains(strings.ToLower(body), "haproxy")
		})
		if strings.Contains(body, "\n") {
			t.Errorf("/healthz reason is not one line: %q", body)
		}
		waitFor(t, r, "an error line quoting haproxy's bind failure", func() bool {
			return errorLine(r.Logs(), "annot bind") != ""
		})
		t.Logf("/healthz: %q; log: %s", body, errorLine(r.Logs(), "annot bind"))
		if strings.Contains(r.Logs(), "msg=\"started haproxy\"") {
			t.Errorf("harender logged that it started an haproxy that could not bind:\n%s", r.Logs())
		}

		held.Close()
		start := time.Now()
		r.waitHealthy(t)
		waitAnswers(t, "http://"+s.bind+"/", 1)
		t.Logf("%s: started %s after the port was freed", testenv.HAProxyVersion(bin), time.Since(start).Round(time.Millisecond))
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("haproxy started %s after the port was freed; the start backoff should be a few seconds", d)
		}
	})
}

// TestRunHAProxyKilledIsRestarted kills the HAProxy master that harender
// runs, under load: harender must notice, say so at error level, start it
// again, count the repair, and leave no zombie (issue 6, case 3).
func TestRunHAProxyKilledIsRestarted(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, _ := startGateways(t, 2)
		s, _ := runSetup(t, consul.Addr, bin, "")
		r, url := startServing(t, s, 2)
		load := testenv.StartLoad(url, 4)
		defer load.Stop()
		time.Sleep(300 * time.Millisecond)

		killed := masterPID(t, s.master)
		if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		waitFor(t, r, "a new haproxy master", func() bool {
			p, err := (&haproxy.Master{Path: s.master, Retry: 100 * time.Millisecond}).ShowProc(t.Context())
			return err == nil && p.Master.PID != killed && len(p.Workers) > 0
		})
		waitAnswers(t, url, 2)
		back := time.Since(start)
		r.waitHealthy(t)
		if back > 5*time.Second {
			t.Errorf("haproxy answered again %s after its master was killed, want a few seconds", back.Round(time.Millisecond))
		}

		// Once it answers again, no request fails.
		_, failedAtBack, _ := load.Snapshot()
		time.Sleep(time.Second)
		load.Stop()
		ok, failed, _ := load.Snapshot()
		t.Logf("%s: answering again after %s; load: %d ok, %d failed (%d while haproxy was down) %v",
			testenv.HAProxyVersion(bin), back.Round(time.Millisecond), ok, failed, failedAtBack, load.Errors)
		if failed > failedAtBack {
			t.Errorf("%d requests failed after haproxy answered again", failed-failedAtBack)
		}

		if line := errorLine(r.Logs(), "haproxy exited"); line == "" {
			t.Errorf("no error line about haproxy's exit:\n%s", r.Logs())
		}
		if v := r.metric(t, `harender_drift_repaired_total{kind="not_running"}`); v != 1 {
			t.Errorf(`harender_drift_repaired_total{kind="not_running"} = %v, want 1`, v)
		}
		if st, ok := procState(killed); ok && st == "Z" {
			t.Errorf("the killed master %d is a zombie: nothing waited for it", killed)
		}
		if n := groupMembers(killed); n > 0 {
			t.Errorf("%d processes of the killed haproxy's group %d are still alive", n, killed)
		}
	})
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	st, ok := procState(pid)
	return ok && st != "Z"
}

// procState is the state letter of pid in /proc (R, S, Z, ...); ok is
// false when there is no such process.
func procState(pid int) (state string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", false
	}
	// pid (comm) state ...; comm may hold spaces and parentheses.
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", false
	}
	return f[0], true
}

// groupMembers counts live processes whose process group is pgid.
func groupMembers(pgid int) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		// state ppid pgrp ...
		if len(f) > 2 && f[0] != "Z" && f[2] == fmt.Sprint(pgid) {
			n++
		}
	}
	return n
}
