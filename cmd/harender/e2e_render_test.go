package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
	"github.com/harender/harender/templates"
)

// harender runs the command line in-process and returns its exit code,
// stdout and stderr.
func harender(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	code := run(ctx, append([]string{"harender"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// gatewaySetup is a temp dir with a harender.hcl that renders the gateway
// template for service "gateway" into DIR/haproxy.cfg.
type gatewaySetup struct {
	dir, config, haproxyCfg, master, runtime, bind string
	source                                         string // the template file, if not the built-in
}

// gatewayOptions are what differs between the tests' harender.hcl files.
// Every one has the consul block, with a short retry, the template and the
// haproxy binary, config and sockets.
type gatewayOptions struct {
	// source, if set, names a file next to the config that holds the
	// built-in gateway template followed by extra, rendered instead of
	// the built-in.
	source, extra string
	// wait adds a wait block of 50ms to 200ms.
	wait bool
	// start has harender start HAProxy.
	start bool
	// serverStateFile and minReloadInterval set these haproxy attributes.
	serverStateFile, minReloadInterval string
}

func newGatewaySetup(t *testing.T, consulAddr, haproxyBin string, o gatewayOptions) gatewaySetup {
	t.Helper()
	dir := t.TempDir()
	s := gatewaySetup{
		dir:        dir,
		config:     filepath.Join(dir, "harender.hcl"),
		haproxyCfg: filepath.Join(dir, "haproxy.cfg"),
		master:     filepath.Join(dir, "master.sock"),
		runtime:    filepath.Join(dir, "admin.sock"),
		bind:       fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
	}
	var b strings.Builder
	fmt.Fprintf(&b, `
consul {
  address = %q
  retry {
    backoff     = "50ms"
    max_backoff = "500ms"
  }
}
`, consulAddr)
	if o.wait {
		b.WriteString(`wait {
  min = "50ms"
  max = "200ms"
}
`)
	}
	tmpl := `builtin     = "gateway"`
	if o.source != "" {
		text, _ := templates.Get("gateway")
		s.source = writeFile(t, filepath.Join(dir, o.source), text+o.extra)
		tmpl = fmt.Sprintf("source      = %q", o.source)
	}
	fmt.Fprintf(&b, `template {
  %s
  params      = { service = "gateway", bind = %q }
  destination = "haproxy.cfg"
}
haproxy {
`, tmpl, s.bind)
	attr := func(name, value string) { fmt.Fprintf(&b, "  %-19s = %s\n", name, value) }
	attr("binary", strconv.Quote(haproxyBin))
	attr("config", `"haproxy.cfg"`)
	attr("master_socket", `"master.sock"`)
	attr("runtime_socket", `"admin.sock"`)
	if o.serverStateFile != "" {
		attr("server_state_file", strconv.Quote(o.serverStateFile))
	}
	if o.start {
		attr("start", "true")
	}
	if o.minReloadInterval != "" {
		attr("min_reload_interval", strconv.Quote(o.minReloadInterval))
	}
	b.WriteString("}\n")
	writeFile(t, s.config, b.String())
	return s
}

// TestRenderReloadFollowsConsul is what a user does: three instances,
// render, start HAProxy, see all three answer; deregister one, render
// --reload, see the reload confirmed and only two answer, while a steady
// load through HAProxy loses nothing.
func TestRenderReloadFollowsConsul(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul := testenv.StartConsul(t)
		var gws []*testenv.Gateway
		for i := 1; i <= 3; i++ {
			gws = append(gws, testenv.StartGateway(t, consul, "gateway", fmt.Sprintf("gw-%d", i)))
		}
		consul.WaitPassing(t, "gateway", 3)
		s := newGatewaySetup(t, consul.Addr, bin, gatewayOptions{})

		code, _, stderr := harender(t, "render", "--config", s.config, "--timeout", "20s")
		if code != exitOK {
			t.Fatalf("render: exit %d\n%s", code, stderr)
		}
		cfg, _ := os.ReadFile(s.haproxyCfg)
		for i := 1; i <= 3; i++ {
			if !strings.Contains(string(cfg), fmt.Sprintf("server gw-%d 127.0.0.1:%d check", i, gws[i-1].Addr.Port)) {
				t.Fatalf("rendered config lacks gw-%d:\n%s", i, cfg)
			}
		}
		hap := testenv.StartHAProxy(t, bin, s.haproxyCfg)
		url := "http://" + s.bind + "/"
		waitAnswers(t, url, 3)

		load := testenv.StartLoad(url, 4)
		time.Sleep(300 * time.Millisecond)
		gws[2].Deregister(t)
		consul.WaitPassing(t, "gateway", 2)
		code, _, stderr = harender(t, "render", "--config", s.config, "--reload", "--timeout", "20s")
		if code != exitOK {
			t.Fatalf("render --reload: exit %d\n%s\nhaproxy log:\n%s", code, stderr, hap.Log())
		}
		if !strings.Contains(stderr, "reloaded") {
			t.Errorf("render --reload did not log a confirmed reload:\n%s", stderr)
		}
		time.Sleep(500 * time.Millisecond)
		load.Stop()
		ok, failed, _ := load.Snapshot()
		t.Logf("load during reload: %d ok, %d failed %v", ok, failed, load.Errors)
		if ok == 0 {
			t.Fatal("no request got through during the reload")
		}
		if failed > 0 {
			t.Errorf("%d requests failed during a reload: %v", failed, load.Errors)
		}
		got, err := testenv.Answers(url, 30)
		if err != nil {
			t.Fatalf("after reload: %v", err)
		}
		if len(got) != 2 || got["hello from gw-3"] != 0 {
			t.Errorf("after deregistering gw-3, answers = %v, want gw-1 and gw-2 only", got)
		}
	})
}

// waitAnswers waits until n distinct instances answer through url.
func waitAnswers(t *testing.T, url string, n int) {
	t.Helper()
	var got map[string]int
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got, err = testenv.Answers(url, 3*n)
		if err == nil && len(got) == n {
			return
		}
	}
	t.Fatalf("want %d instances answering at %s, got %v (err %v)", n, url, got, err)
}
