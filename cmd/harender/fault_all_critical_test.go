package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
)

// TestFaultAllCritical is fault-table row 3: every instance of a service
// fails its Consul check under load. By default harender keeps the last
// non-empty server set (watch's keep-last rule), with a warning, and
// HAProxy's own checks decide: the gateways here fail HAProxy's check too,
// so clients get HAProxy's 503 once it marks them down, which is expected
// and reported. When one instance passes again it is served again.
//
// The checks fail one by one (each runs on its own 500ms interval), so the
// watch may see 3→2→1 before 1→0: the set kept is the last non-empty one
// it saw, which can be smaller than the pool. The test reports how many.
func TestFaultAllCritical(t *testing.T) {
	forEachFaultHAProxy(t, func(t *testing.T, bin string) {
		consul, gws := startGateways(t, 3)
		s, _ := runSetup(t, consul.Addr, bin, "")
		r, url := startServing(t, s, 3)

		watch := watchServers(s.haproxyCfg)
		wrk := testenv.StartWrk(t, "-t1", "-c16", "-d8s", url)
		time.Sleep(time.Second)
		failed := time.Now()
		for _, gw := range gws {
			gw.SetHealthy(false)
		}
		waitFor(t, r, "the keep-last warning", func() bool {
			return strings.Contains(r.Logs(), "every instance of the service fails its checks")
		})
		warned := time.Since(failed)
		waitFor(t, r, "HAProxy's checks to answer 503", func() bool {
			resp, err := http.Get(url)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusServiceUnavailable
		})
		down := time.Since(failed)
		cfg, _ := os.ReadFile(s.haproxyCfg)
		kept := strings.Count(string(cfg), "\n    server ")

		back := time.Now()
		gws[0].SetHealthy(true)
		waitFor(t, r, "gw-1 to be served again", func() bool {
			got, err := testenv.Answers(url, 3)
			return err == nil && got["hello from gw-1"] == 3
		})
		served := time.Since(back)
		res, err := wrk.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		least, empty := watch.stop()
		t.Logf("wrk: %s", res)
		t.Logf("%s: warned %s after the checks failed; %d of 3 servers kept, fewest rendered %d; HAProxy answered 503 %s after; gw-1 served %s after its check passed",
			testenv.HAProxyVersion(bin), warned.Round(time.Millisecond), kept, least, down.Round(time.Millisecond), served.Round(time.Millisecond))

		note := ""
		if kept < 3 {
			note = "; checks failing one by one shrank it first"
		}
		did := fmt.Sprintf("kept the last non-empty set (%d of 3 servers%s) and warned; HAProxy's checks marked them down: 503s (expected); served again %.1fs after one passed",
			kept, note, served.Seconds())
		faultRow{Fault: "Every instance of a service critical under load, then one passes", Did: did, Load: res, ConfigLost: empty || least == 0}.report(t, bin)

		if empty || least == 0 || kept == 0 {
			t.Errorf("the rendered haproxy.cfg lost every server (fewest %d, kept %d, empty %v)", least, kept, empty)
		}
		l := logLines(r.Logs(), "every instance of the service fails its checks")
		if strings.Count(l, "\n")+1 != 1 || !strings.Contains(l, "service=gateway") {
			t.Errorf("want one keep-last warning naming the service, got:\n%s", l)
		}
	})
}
