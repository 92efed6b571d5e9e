package main

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
)

// TestHealthzWhileTemplateBroken breaks the template file on disk under a
// healthy sidecar: /healthz must turn 503 with one line that names the
// file and line and quotes no output, and 200 again once it is fixed
// (issue 6, case 11).
func TestHealthzWhileTemplateBroken(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, _ := startGateways(t, 1)
		s, src := runSetup(t, consul.Addr, bin, "")
		r := startRun(t, s.config)
		r.waitHealthy(t)
		if v := r.metric(t, "harender_template_error"); v != 0 {
			t.Fatalf("harender_template_error = %v while healthy, want 0", v)
		}

		good, _ := os.ReadFile(src)
		const target = "    timeout client 30s"
		line := lineOf(t, string(good), target)
		writeFile(t, src, strings.Replace(string(good), target, "    timeout client {{ end }}", 1))
		broken := time.Now()
		var body string
		waitFor(t, r, "/healthz to turn 503", func() bool {
			var code int
			code, body = healthz(t, r)
			return code == http.StatusServiceUnavailable
		})
		t.Logf("/healthz 503 after %s: %q", time.Since(broken).Round(time.Millisecond), body)
		if d := time.Since(broken); d > 5*time.Second {
			t.Errorf("/healthz took %s to notice the broken template, want under 5s", d)
		}
		if strings.Contains(body, "\n") {
			t.Errorf("/healthz reason is not one line: %q", body)
		}
		if !strings.Contains(body, "gateway.tmpl") || !regexp.MustCompile(fmt.Sprintf(`(line |:)%d\b`, line)).MatchString(body) {
			t.Errorf("/healthz reason %q does not name gateway.tmpl and line %d", body, line)
		}
		for _, output := range []string{"global", "frontend", "backend", "server gw-1", "timeout"} {
			if strings.Contains(body, output) {
				t.Errorf("/healthz reason %q quotes template text %q", body, output)
			}
		}
		if v := r.metric(t, "harender_template_error"); v != 1 {
			t.Errorf("harender_template_error = %v with a broken template, want 1", v)
		}
		// HAProxy keeps serving the last good config meanwhile.
		waitAnswers(t, "http://"+s.bind+"/", 1)

		writeFile(t, src, strings.Replace(string(good), "timeout client 30s", "timeout client 31s", 1))
		r.waitHealthy(t)
		if v := r.metric(t, "harender_template_error"); v != 0 {
			t.Errorf("harender_template_error = %v once fixed, want 0", v)
		}
		waitFor(t, r, "the fixed template to be rendered", func() bool {
			cfg, _ := os.ReadFile(s.haproxyCfg)
			return strings.Contains(string(cfg), "timeout client 31s")
		})
	})
}

// TestRunRuntimeSocketWithoutMasterSocket runs the sidecar with a runtime
// socket but no master socket, against an HAProxy the test started: a
// change that needs a reload is reported, and servers still follow Consul
// through the runtime API (issue 6, case 5).
func TestRunRuntimeSocketWithoutMasterSocket(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, _ := startGateways(t, 1)
		s := supervisedSetup(t, consul.Addr, bin)
		dropMasterSocket(t, s.config)
		renderAndStartHAProxy(t, bin, s)
		r, url := startServing(t, s, 1)

		// A timeout change needs a reload, which harender cannot send.
		text, _ := os.ReadFile(s.source)
		writeFile(t, s.source, strings.Replace(string(text), "timeout client 30s", "timeout client 31s", 1))
		var body string
		waitFor(t, r, "/healthz to say a reload needs master_socket", func() bool {
			var code int
			code, body = healthz(t, r)
			return code == http.StatusServiceUnavailable && strings.Contains(body, "master_socket")
		})
		if strings.Contains(body, "\n") {
			t.Errorf("/healthz reason is not one line: %q", body)
		}

		// Membership still follows Consul.
		testenv.StartGateway(t, consul, "gateway", "gw-2")
		waitFor(t, r, "gw-2 to answer", func() bool {
			got, _ := testenv.Answers(url, 6)
			return got["hello from gw-2"] > 0
		})
		st, err := (&haproxy.Runtime{Path: s.runtime}).ServersState(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.Find("gateway", "gw-2") == nil {
			t.Errorf("show servers state lacks gateway/gw-2:\n%s", st.Bytes())
		}
		if v := r.metric(t, `harender_haproxy_runtime_updates_total{result="ok"}`); v < 1 {
			t.Errorf("runtime updates = %v, want gw-2 added through the runtime API", v)
		}
		// The reload is still owed, and /healthz still says so.
		if code, body := healthz(t, r); code != http.StatusServiceUnavailable || !strings.Contains(body, "master_socket") {
			t.Errorf("/healthz = %d %q, want 503 naming master_socket while the reload is owed", code, body)
		}
	})
}

// TestRunRefusedReloadPutsBackRunningConfig makes a config that passes
// haproxy -c but cannot be loaded (a port held by the test): the refused
// reload must put back the file HAProxy runs, say so, and load the new
// config once the port is free (issue 6, case 6).
func TestRunRefusedReloadPutsBackRunningConfig(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, _ := startGateways(t, 1)
		s, src := runSetup(t, consul.Addr, bin, "")
		r, _ := startServing(t, s, 1)
		running, err := os.ReadFile(s.haproxyCfg)
		if err != nil {
			t.Fatal(err)
		}

		heldAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		held := holdPort(t, heldAddr)
		text, _ := os.ReadFile(src)
		writeFile(t, src, string(text)+fmt.Sprintf(`    http-response set-header X-Generation 2

listen held
    bind %s
    http-request return status 200
`, heldAddr))
		waitFor(t, r, "the refused reload to be counted", func() bool {
			return r.metric(t, `harender_haproxy_reloads_total{result="failed"}`) >= 1
		})
		waitFor(t, r, "haproxy.cfg to be put back", func() bool {
			now, _ := os.ReadFile(s.haproxyCfg)
			return string(now) == string(running)
		})
		if got := haproxyHeader(s.bind, "X-Generation"); got != "" {
			t.Errorf("HAProxy serves X-Generation %q: it is not running the old config", got)
		}
		if code, body := healthz(t, r); code != http.StatusServiceUnavailable || strings.Contains(body, "\n") || body == "" {
			t.Errorf("/healthz = %d %q, want 503 with a one-line reason", code, body)
		}
		if line := errorLine(r.Logs(), "annot bind"); line == "" {
			t.Errorf("no error line quotes haproxy's bind failure:\n%s", r.Logs())
		} else {
			t.Logf("%s: %s", testenv.HAProxyVersion(bin), line)
		}

		held.Close()
		waitFor(t, r, "the new config to load once the port is free", func() bool {
			return r.healthy() && haproxyHeader(s.bind, "X-Generation") == "2"
		})
		now, _ := os.ReadFile(s.haproxyCfg)
		if !strings.Contains(string(now), "listen held") {
			t.Errorf("haproxy.cfg lacks the new config after the retry:\n%s", now)
		}
	})
}

// lineOf is the 1-based number of the line of text that starts with prefix.
func lineOf(t *testing.T, text, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line %q in the template", prefix)
	return 0
}

// dropMasterSocket removes master_socket from a harender.hcl.
func dropMasterSocket(t *testing.T, config string) {
	t.Helper()
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\s*master_socket\s*=.*\n`)
	if !re.Match(b) {
		t.Fatalf("no master_socket in %s", config)
	}
	writeFile(t, config, re.ReplaceAllString(string(b), ""))
}
