package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
)

// TestRenderReloadFollowsConsul is what a user does: three instances,
// render, start HAProxy, see all three answer; deregister one, render
// --reload, see the reload confirmed and only two answer, while a steady
// load through HAProxy loses nothing.
func TestRenderReloadFollowsConsul(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, gws := startGateways(t, 3)
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
