package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
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

// gatewaySetup writes a harender.hcl that renders the built-in gateway
// template for service "gateway" into DIR/haproxy.cfg.
type gatewaySetup struct {
	dir, config, haproxyCfg, master, runtime, bind string
}

func newGatewaySetup(t *testing.T, consulAddr, haproxyBin string) gatewaySetup {
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
	hcl := fmt.Sprintf(`
consul {
  address = %q
  retry {
    backoff     = "50ms"
    max_backoff = "500ms"
  }
}
template {
  builtin     = "gateway"
  params      = { service = "gateway", bind = %q }
  destination = "haproxy.cfg"
}
haproxy {
  binary         = %q
  config         = "haproxy.cfg"
  master_socket  = "master.sock"
  runtime_socket = "admin.sock"
}
`, consulAddr, s.bind, haproxyBin)
	if err := os.WriteFile(s.config, []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
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
		s := newGatewaySetup(t, consul.Addr, bin)

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
