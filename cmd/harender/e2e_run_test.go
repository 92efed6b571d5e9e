package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
)

// sidecarRun is harender run, in-process, stopped when the test ends.
type sidecarRun struct {
	listen string
	cancel context.CancelFunc
	done   chan int
	logs   testenv.LockedBuffer
}

// Logs is what harender run logged so far.
func (r *sidecarRun) Logs() string { return r.logs.String() }

func startRun(t *testing.T, config string) *sidecarRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &sidecarRun{listen: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), cancel: cancel, done: make(chan int, 1)}
	go func() {
		r.done <- run(ctx, []string{"harender", "run", "--config", config, "--listen", r.listen, "--log-level", "debug"}, io.Discard, &r.logs)
	}()
	t.Cleanup(func() {
		if code := r.stop(t); code != exitOK {
			t.Errorf("harender run exited %d\n%s", code, r.Logs())
		}
	})
	return r
}

// stop sends the equivalent of SIGTERM and returns the exit code.
func (r *sidecarRun) stop(t *testing.T) int {
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(15 * time.Second):
		t.Fatalf("harender run did not stop within 15s\n%s", r.Logs())
		return -1
	}
}

func (r *sidecarRun) waitHealthy(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + r.listen + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatalf("/healthz never answered 200\n%s", r.Logs())
}

// metric reads one sample from /metrics, 0 if absent.
func (r *sidecarRun) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + r.listen + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// runOptions configure harender run to start HAProxy itself and to render
// the gateway template, followed by extra, from a file, so tests can edit it.
func runOptions(extra string) gatewayOptions {
	return gatewayOptions{
		source: "gateway.tmpl", extra: extra, wait: true, start: true,
		serverStateFile: "server-state", minReloadInterval: "1s",
	}
}

// runSetup writes a config with runOptions(extra) and returns it and the
// path of the template file.
func runSetup(t *testing.T, consulAddr, bin string, extra string) (gatewaySetup, string) {
	t.Helper()
	s := newGatewaySetup(t, consulAddr, bin, runOptions(extra))
	return s, s.source
}

// TestRunFollowsConsul runs the sidecar as a user would and changes the
// world under it: instances come and go, the template is edited on disk,
// the config is re-read on SIGHUP. A steady load loses no request.
func TestRunFollowsConsul(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul := testenv.StartConsul(t)
		gws := map[string]*testenv.Gateway{}
		for i := 1; i <= 3; i++ {
			id := fmt.Sprintf("gw-%d", i)
			gws[id] = testenv.StartGateway(t, consul, "gateway", id)
		}
		consul.WaitPassing(t, "gateway", 3)
		s, src := runSetup(t, consul.Addr, bin, "")
		r := startRun(t, s.config)
		r.waitHealthy(t)
		url := "http://" + s.bind + "/"
		waitAnswers(t, url, 3)
		load := testenv.StartLoad(url, 4)
		reloadsBefore := r.metric(t, `harender_haproxy_reloads_total{result="ok"}`)

		gws["gw-4"] = testenv.StartGateway(t, consul, "gateway", "gw-4")
		waitFor(t, r, "gw-4 to serve", func() bool { got, _ := testenv.Answers(url, 12); return got["hello from gw-4"] > 0 })

		gws["gw-2"].SetHealthy(false)
		waitFor(t, r, "gw-2 to leave", func() bool {
			cfg, _ := os.ReadFile(s.haproxyCfg)
			return !strings.Contains(string(cfg), "server gw-2 ")
		})
		waitAnswers(t, url, 3)
		// Membership changes go through the runtime API: no reload.
		if got := r.metric(t, `harender_haproxy_reloads_total{result="ok"}`); got != reloadsBefore {
			t.Errorf("adding and removing an instance cost %v reloads, want none", got-reloadsBefore)
		}
		// A removed server still busy is deleted on a retry, a moment later.
		waitFor(t, r, "two runtime updates (one add, one remove)", func() bool {
			return r.metric(t, `harender_haproxy_runtime_updates_total{result="ok"}`) >= 2
		})

		// An editor that saves by rename, as vim and sed -i do.
		text, _ := os.ReadFile(src)
		edited := strings.Replace(string(text), "timeout client 30s", "timeout client 31s", 1)
		tmp := src + ".swp"
		writeFile(t, tmp, edited)
		if err := os.Rename(tmp, src); err != nil {
			t.Fatal(err)
		}
		waitFor(t, r, "the template edit to apply", func() bool {
			cfg, _ := os.ReadFile(s.haproxyCfg)
			return strings.Contains(string(cfg), "timeout client 31s")
		})

		// A broken edit keeps the last good output, and says where.
		writeFile(t, src, edited+"{{ if }}\n")
		waitFor(t, r, "the broken edit to be logged", func() bool {
			return strings.Contains(r.Logs(), src+":")
		})
		if r.metric(t, "harender_template_error") != 1 {
			t.Error("harender_template_error is not 1 after a broken edit")
		}
		writeFile(t, src, strings.Replace(edited, "timeout client 31s", "timeout client 32s", 1))
		waitFor(t, r, "the next good edit to apply", func() bool {
			cfg, _ := os.ReadFile(s.haproxyCfg)
			return strings.Contains(string(cfg), "timeout client 32s")
		})

		// SIGHUP re-reads the config: a new bind-independent param.
		cfgText, _ := os.ReadFile(s.config)
		writeFile(t, s.config, strings.Replace(string(cfgText), `bind = `, `check_path = "/health?hup=1", bind = `, 1))
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		waitFor(t, r, "SIGHUP to apply", func() bool {
			cfg, _ := os.ReadFile(s.haproxyCfg)
			return strings.Contains(string(cfg), "/health?hup=1")
		})

		time.Sleep(300 * time.Millisecond)
		load.Stop()
		ok, failed, _ := load.Snapshot()
		if failed > 0 {
			t.Errorf("%d requests failed: %v", failed, load.Errors)
		}
		// Every reload HAProxy saw is one harender confirmed; deferred
		// ones may still be due, so wait for the two to agree.
		reloads, procs := r.waitReloadsAgree(t, s.master, func() bool { return true })
		t.Logf("%s: %d requests ok, %d failed, across %.0f reloads", testenv.HAProxyVersion(bin), ok, failed, reloads)
		// Three changes needed a reload (two edits, SIGHUP); those less
		// than min_reload_interval apart merge into one.
		if reloads < 1 || reloads > 3 || procs.Master.Failed != 0 {
			t.Errorf("reloads = %.0f (failed %d), want 1 to 3 and none failed", reloads, procs.Master.Failed)
		}
	})
}

// waitReloadsAgree waits until done holds and every reload HAProxy's
// show proc counts is one /metrics counts as confirmed; it returns both.
func (r *sidecarRun) waitReloadsAgree(t *testing.T, master string, done func() bool) (float64, haproxy.Procs) {
	t.Helper()
	var reloads float64
	var procs haproxy.Procs
	waitFor(t, r, "show proc and /metrics to agree", func() bool {
		var err error
		procs, err = (&haproxy.Master{Path: master}).ShowProc(t.Context())
		reloads = r.metric(t, `harender_haproxy_reloads_total{result="ok"}`)
		return err == nil && done() && float64(procs.Master.Reloads) == reloads
	})
	return reloads, procs
}

func waitFor(t *testing.T, r *sidecarRun, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s\n%s", what, r.Logs())
}
