package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harender/harender/internal/testenv"
)

// companionSetup writes a harender.hcl with two templates: a map file and
// an haproxy.cfg that routes through it, rendered in the same run.
func companionSetup(t *testing.T, dir, bin, mapLine, cfgExtra string) (config, mapPath, cfgPath string) {
	mapPath, cfgPath = filepath.Join(dir, "paths.map"), filepath.Join(dir, "haproxy.cfg")
	config = writeFile(t, filepath.Join(dir, "harender.hcl"), fmt.Sprintf(`
template {
  contents    = %q
  destination = "paths.map"
}
template {
  contents    = <<EOT
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind 127.0.0.1:%d
    use_backend %%[path,map_beg(%s,be)]
%s
backend be
    server s1 127.0.0.1:1
EOT
  destination = "haproxy.cfg"
}
haproxy {
  binary = %q
  config = "haproxy.cfg"
}
`, mapLine, testenv.FreePort(t), mapPath, cfgExtra, bin))
	return config, mapPath, cfgPath
}

// TestRenderChecksConfigWithItsCompanions is case 7 of issue 6: an
// haproxy.cfg that uses a map rendered in the same run passes haproxy -c,
// and a rejected candidate leaves the map as it was.
func TestRenderChecksConfigWithItsCompanions(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		dir := t.TempDir()
		config, mapPath, cfgPath := companionSetup(t, dir, bin, "/api be\n", "")
		if code, _, stderr := harender(t, "render", "--config", config); code != exitOK {
			t.Fatalf("render of a config and its new map: exit %d\n%s", code, stderr)
		}
		for _, p := range []string{mapPath, cfgPath} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s not written: %v", p, err)
			}
		}
		cfgBefore, _ := os.ReadFile(cfgPath)

		// A new map with a config HAProxy rejects: neither is written.
		companionSetup(t, dir, bin, "/v2 be\n", "    no-such-keyword")
		code, _, stderr := harender(t, "render", "--config", config)
		if code != exitConfig || !strings.Contains(stderr, "no-such-keyword") {
			t.Fatalf("rejected candidate: exit %d\n%s", code, stderr)
		}
		if m, _ := os.ReadFile(mapPath); string(m) != "/api be\n" {
			t.Errorf("map = %q after a rejected candidate, want it as it was", m)
		}
		if c, _ := os.ReadFile(cfgPath); string(c) != string(cfgBefore) {
			t.Error("haproxy.cfg changed by a rejected candidate")
		}
	})
}
