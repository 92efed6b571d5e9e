package haproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harender/harender/internal/testbin"
)

// integrationConfig is the config under test: one frontend and backend "be"
// whose servers s1 and s2 point at ports sa and sb.
func integrationConfig(dir string, feport, sa, sb int, extra string) string {
	return fmt.Sprintf(`global
    stats socket %s/admin.sock level admin

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind 127.0.0.1:%d
    default_backend be

backend be
    balance roundrobin
    server s1 127.0.0.1:%d
    server s2 127.0.0.1:%d
%s`, dir, feport, sa, sb, extra)
}

// namedServer serves HTTP on a loopback port and answers every request with name.
func namedServer(t *testing.T, name string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, name)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// startHAProxy runs bin in master-worker mode in its own process group and
// kills the whole group when the test ends.
func startHAProxy(t testing.TB, bin haproxyBin, dir, cfg string) (*exec.Cmd, *Master) {
	t.Helper()
	logPath := filepath.Join(dir, "haproxy.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "master.sock")
	cmd := exec.Command(bin.Path, "-W", "-S", sock, "-f", cfg, "-p", filepath.Join(dir, "haproxy.pid"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			t.Errorf("haproxy %d ignored SIGTERM; killing its group", pgid)
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // workers that outlived the master
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("haproxy log:\n%s", b)
		}
	})
	m := &Master{Path: sock, Retry: 5 * time.Second}
	return cmd, m
}

// get fetches / through HAProxy on a fresh connection and returns the body.
func get(t *testing.T, port int) string {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Status + " " + string(b)
}

// expectAll asserts that n requests through HAProxy all reach the named server.
func expectAll(t *testing.T, port int, name string) {
	t.Helper()
	for i := 0; i < 6; i++ {
		if got := get(t, port); got != "200 OK "+name {
			t.Fatalf("request %d got %q, want all from %s", i, got, name)
		}
	}
}

// waitAddr waits until show servers state gives be/server port on
// 127.0.0.1. From 3.0 `set server addr` returns before the address
// changes: a task applies it, and drops the idle connections to the old
// one, a moment later (server_atomic_sync in server.c).
func waitAddr(t *testing.T, rt *Runtime, server string, port int) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		state, err := rt.ServersState(t.Context())
		if err != nil {
			last = err.Error()
			continue
		}
		s := state.Find("be", server)
		if s != nil && s.Addr == "127.0.0.1" && s.Port == port {
			return
		}
		last = fmt.Sprintf("%+v", s)
	}
	t.Fatalf("be/%s not at 127.0.0.1:%d after 2s: show servers state gives %s", server, port, last)
}

func TestIntegration(t *testing.T) {
	forEachBinary(t, func(t *testing.T, bin haproxyBin) {
		dir := t.TempDir()
		pa, pb := namedServer(t, "A"), namedServer(t, "B")
		fe := testbin.FreePort(t)
		cfgPath := filepath.Join(dir, "haproxy.cfg")
		oldText := integrationConfig(dir, fe, pa, pa, "")
		if err := os.WriteFile(cfgPath, []byte(oldText), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Check(t.Context(), bin.Path, cfgPath); err != nil {
			t.Fatal(err)
		}
		cmd, m := startHAProxy(t, bin, dir, cfgPath)
		rt := &Runtime{Path: filepath.Join(dir, "admin.sock")}

		// show proc: the master we started and one worker.
		p, err := m.ShowProc(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if p.Master.PID != cmd.Process.Pid || p.Master.Reloads != 0 || !p.Master.HasFailed || len(p.Workers) != 1 || p.Master.Version != bin.Version {
			t.Fatalf("show proc = %+v", p)
		}
		waitRuntime(t, rt)
		expectAll(t, fe, "A")

		// Two reloads back to back: the second must wait out 2.6's re-exec.
		for want := 1; want <= 2; want++ {
			res, err := m.Reload(t.Context())
			if err != nil {
				t.Fatalf("reload %d: %v", want, err)
			}
			if res.Sync != bin.SyncReload() || res.After.Master.Reloads != want || res.Before.Master.Reloads != want-1 {
				t.Fatalf("reload %d: sync=%v before=%+v after=%+v", want, res.Sync, res.Before.Master, res.After.Master)
			}
			if res.After.Workers[0].PID == res.Before.Workers[0].PID {
				t.Fatalf("reload %d: worker %d not replaced", want, res.Before.Workers[0].PID)
			}
		}
		expectAll(t, fe, "A")

		// Runtime API: a server-only change is planned and applied without reload.
		s2 := fmt.Sprintf("server s2 127.0.0.1:%d", pa)
		ch := planTexts(t, oldText, strings.Replace(oldText, s2, s2+" weight 1", 1))
		if !ch.Reload || !strings.Contains(ch.Reason, "weight added or removed") {
			t.Fatalf("adding a weight must reload: %+v", ch)
		}
		// s1 moves to B, s2 is disabled: two runtime updates, no reload.
		newText := strings.Replace(integrationConfig(dir, fe, pb, pa, ""), s2, s2+" disabled", 1)
		if ch = planTexts(t, oldText, newText); ch.Reload {
			t.Fatalf("plan = %+v, want no reload", ch)
		}
		newCfg, err := ParseConfig([]byte(newText))
		if err != nil {
			t.Fatal(err)
		}
		obs, err := rt.ServersState(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		steps, why := Reconcile(newCfg, obs)
		if why != "" || len(steps) != 2 || steps[0].Kind != StepSetState || steps[0].State != "maint" || steps[1].Kind != StepSetAddr {
			t.Fatalf("reconcile = %v %q, want s2 to maint, then s1 moved", steps, why)
		}
		for _, s := range steps {
			if err := rt.Do(t.Context(), s); err != nil {
				t.Fatal(err)
			}
		}
		waitAddr(t, rt, "s1", pb)
		expectAll(t, fe, "B")
		if err := rt.SetServerAddr(t.Context(), "be", "s1", "127.0.0.1", pa); err != nil {
			t.Fatal(err)
		}
		waitAddr(t, rt, "s1", pa)
		expectAll(t, fe, "A")
		if err := rt.SetServerWeight(t.Context(), "be", "nope", 3); !errors.Is(err, ErrRuntimeRejected) || !strings.Contains(err.Error(), "No such server.") {
			t.Fatalf("weight on missing server: %v", err)
		}
		if err := rt.SetServerAddr(t.Context(), "be", "s1", "not-an-ip", 1); !errors.Is(err, ErrRuntimeRejected) || !strings.Contains(err.Error(), "Invalid addr") {
			t.Fatalf("bad addr: %v", err)
		}

		// A config broken on disk: the reload fails and the old worker keeps serving.
		bad := oldText + "    bogus-keyword\n"
		if err := os.WriteFile(cfgPath, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := m.Reload(t.Context())
		if !errors.Is(err, ErrReloadFailed) {
			t.Fatalf("reload of broken config: %v", err)
		}
		if bin.SyncReload() {
			// 2.7+: Success=0 and the startup messages quote the problem.
			if !res.Sync || !strings.Contains(res.Messages, "[ALERT]") || !strings.Contains(err.Error(), "unknown keyword 'bogus-keyword'") {
				t.Fatalf("sync failure: err=%v messages=%q", err, res.Messages)
			}
		} else {
			// 2.6: no reply; the master's reload counter and [failed: N] both go up
			// and the previous worker stays, its own reload counter bumped.
			if res.Sync || !strings.Contains(err.Error(), "reloads 2->3, failed 0->1") {
				t.Fatalf("2.6 failure: err=%v", err)
			}
		}
		p, err = m.ShowProc(t.Context())
		// The worker that still serves is listed as the current one
		// before 3.1, among the old workers since.
		still := p.Workers
		if len(still) == 0 {
			still = p.OldWorkers
		}
		if err != nil || p.Master.Reloads != 3 || p.Master.Failed != 1 || len(still) != 1 || still[0].Reloads != 1 {
			t.Fatalf("show proc after failed reload = %+v, %v", p, err)
		}
		expectAll(t, fe, "A")

		// Fixing the file and reloading succeeds, and resets the failed counter.
		if err := os.WriteFile(cfgPath, []byte(oldText), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err = m.Reload(t.Context())
		if err != nil || res.After.Master.Reloads != 4 || res.After.Master.Failed != 0 {
			t.Fatalf("reload after fix: %v, %+v", err, res.After.Master)
		}
		waitRuntime(t, rt)
		expectAll(t, fe, "A")

		// A socket that is not there.
		missing := &Master{Path: filepath.Join(dir, "missing.sock"), Retry: 100 * time.Millisecond}
		if _, err := missing.Reload(t.Context()); !errors.Is(err, ErrSocket) || !strings.Contains(err.Error(), missing.Path) {
			t.Fatalf("missing socket: %v", err)
		}
	})
}

// waitRuntime waits until the worker's runtime socket answers.
func waitRuntime(t testing.TB, rt *Runtime) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := rt.ServersState(t.Context())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("runtime socket never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// planTexts parses two config texts and plans between them.
func planTexts(t *testing.T, oldText, newText string) Change {
	t.Helper()
	return Plan(mustParse(t, oldText), mustParse(t, newText))
}
