package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
)

// TestRunReturningInstanceIsServedAgain is case 1 of issue 6. An instance
// fails its check while a request is in flight on it: `del server`
// refuses, so HAProxy keeps it in maintenance. It passes again, and must be
// served again through the runtime API, with no reload. A later reload
// (a template edit) must not bring back the maintenance from the server
// state file, nor any weight but the config's.
func TestRunReturningInstanceIsServedAgain(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, gws := startGateways(t, 3)
		s, src := runSetup(t, consul.Addr, bin, "")
		r, url := startServing(t, s, 3)
		rt := &haproxy.Runtime{Path: s.runtime}
		reloadsBefore := r.metric(t, okReloads)
		load := testenv.StartLoad(url, 4)

		gw := gws[1]
		held := holdRequest(t, r, rt, url, 6*time.Second, gw)
		gw.SetHealthy(false)
		var st *haproxy.ServerState
		waitFor(t, r, "gw-2 to be left in maintenance while busy", func() bool {
			st = serverState(t, rt, "gw-2")
			return st != nil && st.Maint()
		})
		t.Logf("gw-2 failed its check with %d request(s) held; haproxy keeps it: %s", gw.Holding(6*time.Second), stateLine(st))
		if gw.Holding(6*time.Second) == 0 {
			t.Fatal("gw-2's held request ended before the return: the test did not exercise a busy server")
		}

		back := time.Now()
		gw.SetHealthy(true)
		waitFor(t, r, "gw-2 to answer through HAProxy again", func() bool {
			got, _ := testenv.Answers(url, 6)
			return got["hello from gw-2"] > 0
		})
		t.Logf("%s: gw-2 served again %s after its check passed again (request still in flight: %v)",
			testenv.HAProxyVersion(bin), time.Since(back).Round(time.Millisecond), gw.Holding(6*time.Second) > 0)
		if st = serverState(t, rt, "gw-2"); st == nil || st.AdminState != 0 {
			t.Errorf("gw-2 answers, but show servers state says %s; want admin state 0 (not in maintenance)", stateLine(st))
		}
		if got := r.metric(t, okReloads); got != reloadsBefore {
			t.Errorf("the return cost %v reload(s), want none (it is a runtime change)\n%s", got-reloadsBefore, logLines(r.Logs(), "gw-2", "reload"))
		}

		// A structural change: one reload, which restores server state
		// from the file harender writes before it.
		text, _ := os.ReadFile(src)
		writeFile(t, src, strings.Replace(string(text), "timeout client 30s", "timeout client 31s", 1))
		reloads, _ := r.waitReloadsAgree(t, s.master, func() bool { return r.metric(t, okReloads) > reloadsBefore })
		st = serverState(t, rt, "gw-2")
		t.Logf("after the reload: %s", stateLine(st))
		if reloads != reloadsBefore+1 {
			t.Errorf("the edit cost %v reloads, want 1", reloads-reloadsBefore)
		}
		if st == nil || st.AdminState != 0 || st.UWeight != st.IWeight || st.IWeight != 1 {
			t.Errorf("after the reload gw-2 is %s; want admin state 0 and weight 1, the config's", stateLine(st))
		}
		checkStateFile(t, filepath.Join(s.dir, "server-state"), "gw-2")
		waitFor(t, r, "gw-2 to answer after the reload", func() bool {
			got, _ := testenv.Answers(url, 6)
			return got["hello from gw-2"] > 0
		})

		if err := held.wait(); err != nil {
			t.Errorf("the request held on gw-2 failed: %v", err)
		}
		load.Stop()
		ok, failed, _ := load.Snapshot()
		t.Logf("load: %d ok, %d failed", ok, failed)
		if failed > 0 {
			t.Errorf("%d requests failed: %v", failed, load.Errors)
		}
	})
}

// heldRequest is a request that gw holds for a while.
type heldRequest struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error // one per request sent
}

// holdRequest sends requests through HAProxy that take d, four at a time
// (round robin gives each server every third or fourth), until one is in
// flight on gw. With other load interleaved, round robin is a lottery for
// these requests, so it keeps sending for up to 5s rather than a fixed
// number of times (a server just back from maintenance may also not be in
// rotation yet). It returns within milliseconds on a quiet machine.
func holdRequest(t *testing.T, r *sidecarRun, rt *haproxy.Runtime, url string, d time.Duration, gw *testenv.Gateway) *heldRequest {
	t.Helper()
	h, before := &heldRequest{}, gw.Holding(d)
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	t.Cleanup(c.CloseIdleConnections)
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		for range 4 {
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				_, err := testenv.Get(c, fmt.Sprintf("%s?delay=%s", url, d))
				h.mu.Lock()
				h.errs = append(h.errs, err)
				h.mu.Unlock()
			}()
		}
		// On loopback a request reaches its server within milliseconds;
		// allow for a loaded machine.
		for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			if gw.Holding(d) > before {
				return h
			}
		}
	}
	h.wg.Wait()
	t.Fatalf("none of %d slow requests in 5s reached %s; HAProxy reports it: %s\n%s",
		len(h.errs), gw.ID, stateLine(serverState(t, rt, gw.ID)), lastLines(r.Logs(), 30))
	return nil
}

// wait waits for every request sent and returns their errors.
func (h *heldRequest) wait() error {
	h.wg.Wait()
	var failed []string
	for _, err := range h.errs {
		if err != nil {
			failed = append(failed, err.Error())
		}
	}
	if failed != nil {
		return fmt.Errorf("%d of %d: %s", len(failed), len(h.errs), strings.Join(failed, "; "))
	}
	return nil
}

// serverState is gateway/name as HAProxy's runtime API reports it, nil if
// HAProxy has no such server.
func serverState(t *testing.T, rt *haproxy.Runtime, name string) *haproxy.ServerState {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	obs, err := rt.ServersState(ctx)
	if err != nil {
		t.Logf("show servers state: %v", err)
		return nil
	}
	return obs.Find("gateway", name)
}

// stateLine describes a server's state for a log line.
func stateLine(s *haproxy.ServerState) string {
	if s == nil {
		return "no such server"
	}
	return fmt.Sprintf("%s/%s %s:%d op_state %d admin_state %#x uweight %d iweight %d",
		s.Backend, s.Server, s.Addr, s.Port, s.OpState, s.AdminState, s.UWeight, s.IWeight)
}

// checkStateFile checks that the server state file harender wrote for the
// last reload says nothing of server that contradicts the config: no
// maintenance or drain, and the config's weight.
func checkStateFile(t *testing.T, path, server string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("server state file: %v", err)
		return
	}
	st, err := haproxy.ParseServersState(string(data))
	if err != nil {
		t.Errorf("server state file: %v\n%s", err, data)
		return
	}
	if s := st.Find("gateway", server); s != nil && (s.AdminState != 0 || s.UWeight != 1 || s.IWeight != 1) {
		t.Errorf("the server state file restores %s, against the config\n%s", stateLine(s), data)
	}
}
