package main

import (
	"os"
	"strings"
	"testing"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
)

// TestRunRestartMakesOwedReload is case 4 of issue 6: a reload deferred by
// min_reload_interval when harender stops is made when it starts again,
// because harender asks HAProxy what it loaded instead of assuming it runs
// the file on disk.
func TestRunRestartMakesOwedReload(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, _ := startGateways(t, 1)
		s := newGatewaySetup(t, consul.Addr, bin, gatewayOptions{
			source: "gateway.tmpl", extra: "    http-response set-header X-Gen 1\n",
			wait: true, minReloadInterval: "20s",
		})
		renderAndStartHAProxy(t, bin, s)

		r := startRun(t, s.config)
		r.waitHealthy(t)
		if got := haproxyHeader(s.bind, "X-Gen"); got != "1" {
			t.Fatalf("X-Gen = %q, want 1", got)
		}
		text, _ := os.ReadFile(s.source)
		writeFile(t, s.source, strings.Replace(string(text), "X-Gen 1", "X-Gen 2", 1))
		waitFor(t, r, "the edit to be rendered", func() bool {
			cfg, _ := os.ReadFile(s.haproxyCfg)
			return strings.Contains(string(cfg), "X-Gen 2")
		})
		if got := haproxyHeader(s.bind, "X-Gen"); got != "1" {
			t.Fatalf("X-Gen = %q before min_reload_interval, want the reload deferred", got)
		}
		if code := r.stop(t); code != exitOK {
			t.Fatalf("harender run exited %d", code)
		}

		r2 := startRun(t, s.config)
		waitFor(t, r2, "HAProxy to run the owed config", func() bool { return haproxyHeader(s.bind, "X-Gen") == "2" })
		r2.waitHealthy(t)
		if got := r2.metric(t, `harender_drift_repaired_total{kind="config"}`); got != 1 {
			t.Errorf(`drift_repaired_total{kind="config"} = %v, want 1`, got)
		}
		procs, err := (&haproxy.Master{Path: s.master}).ShowProc(t.Context())
		if err != nil || procs.Master.Failed != 0 {
			t.Fatalf("show proc: %+v %v", procs.Master, err)
		}
		loaded, _ := os.ReadFile(s.haproxyCfg + ".loaded")
		cfg, _ := os.ReadFile(s.haproxyCfg)
		if _, body, _ := strings.Cut(string(loaded), "\n"); body != string(cfg) {
			t.Errorf("haproxy.cfg.loaded does not hold the config HAProxy runs")
		}
	})
}
