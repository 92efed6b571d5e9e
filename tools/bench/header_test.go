package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHeadersPassCheck: the bench's HAProxy configs, with a server line
// (and the consul-template routes template with its template actions
// taken out), pass haproxy -c on every HAProxy in HAPROXY_BINS.
func TestHeadersPassCheck(t *testing.T) {
	bins := filepath.SplitList(os.Getenv("HAPROXY_BINS"))
	if len(bins) == 0 {
		t.Skip("HAPROXY_BINS is not set")
	}
	e := &env{dir: t.TempDir(), ports: ports{base: 25000}}
	routes := routesTemplate(e)
	var kept []string
	for _, l := range strings.Split(routes, "\n") {
		if !strings.Contains(l, "{{") {
			kept = append(kept, l)
		}
	}
	configs := map[string]string{
		"header":    header(e, "") + "    server gw-1 127.0.0.1:9 check\n",
		"header kv": header(e, `http-response set-header X-Bench-Rev "1"`) + "    server gw-1 127.0.0.1:9 check\n",
		"routes":    strings.Join(kept, "\n"),
	}
	for _, bin := range bins {
		for name, text := range configs {
			path := filepath.Join(e.dir, "haproxy.cfg")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "-c", "-q", "-f", path).CombinedOutput(); err != nil {
				t.Errorf("%s, %s: haproxy -c: %v\n%s\n%s", filepath.Base(bin), name, err, out, text)
			}
		}
	}
}
