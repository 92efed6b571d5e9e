package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
)

// TestRunFollowsConsul runs the sidecar as a user would and changes the
// world under it: instances come and go, the template is edited on disk,
// the config is re-read on SIGHUP. A steady load loses no request.
func TestRunFollowsConsul(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, gws := startGateways(t, 3)
		s, src := runSetup(t, consul.Addr, bin, "")
		r, url := startServing(t, s, 3)
		load := testenv.StartLoad(url, 4)
		reloadsBefore := r.metric(t, okReloads)

		testenv.StartGateway(t, consul, "gateway", "gw-4")
		waitFor(t, r, "gw-4 to serve", func() bool { got, _ := testenv.Answers(url, 12); return got["hello from gw-4"] > 0 })

		gws[1].SetHealthy(false) // gw-2
		waitFor(t, r, "gw-2 to leave", func() bool {
			cfg, _ := os.ReadFile(s.haproxyCfg)
			return !strings.Contains(string(cfg), "server gw-2 ")
		})
		waitAnswers(t, url, 3)
		// Membership changes go through the runtime API: no reload.
		if got := r.metric(t, okReloads); got != reloadsBefore {
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
