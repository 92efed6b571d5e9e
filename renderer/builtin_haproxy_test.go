package renderer

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/harender/harender/internal/testbin"
	"github.com/harender/harender/templates"
)

// TestBuiltinGatewayFollowsHAProxy renders the gateway template for each
// HAProxy release's features: guids from 3.0; one listen section in place
// of a frontend and a backend from 3.3; shm-stats-file from 3.4. Each output must match its golden file and, where that release's
// binary is at hand, pass its haproxy -c.
func TestBuiltinGatewayFollowsHAProxy(t *testing.T) {
	text, err := templates.Get("gateway")
	if err != nil {
		t.Fatal(err)
	}
	features := func(guid, shm bool) map[string]bool {
		return map[string]bool{"guid": guid, "shm-stats-file": shm, "addr-purges-idle": guid, "add-backend": shm, "unique-proxy-names": shm}
	}
	for _, c := range []struct {
		name, bin string
		info      HAProxyInfo
	}{
		{"26", "/usr/sbin/haproxy", HAProxyInfo{Version: "2.6.12", Features: features(false, false)}},
		{"30", filepath.Join(testbin.RepoBin(), "haproxy-3.0"), HAProxyInfo{Version: "3.0.11", Features: features(true, false)}},
		{"34", filepath.Join(testbin.RepoBin(), "haproxy-3.4"), HAProxyInfo{Version: "3.4.0", Features: features(true, true)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			params := map[string]string{"service": "gateway", "runtime_socket": "/run/haproxy/admin.sock"}
			tmpl, err := Parse("gateway", text, Options{Params: params, HAProxy: c.info})
			if err != nil {
				t.Fatal(err)
			}
			res, err := tmpl.Execute(gatewayInstances(t, "gateway", 3))
			if err != nil {
				t.Fatal(err)
			}
			out := string(res.Output)
			if got, want := len(regexp.MustCompile(` guid [a-z]+:`).FindAllString(out, -1)), map[string]int{"26": 0, "30": 5, "34": 4}[c.name]; got != want {
				t.Errorf("%d guid keywords, want %d (every proxy and the 3 servers, from 3.0 on)\n%s", got, want, out)
			}
			if got, want := strings.Contains(out, "\nlisten gateway\n"), c.name == "34"; got != want {
				t.Errorf("one listen section: %v, want %v (from 3.3 on)", got, want)
			}
			if got, want := strings.Contains(out, "shm-stats-file"), c.name == "34"; got != want {
				t.Errorf("shm-stats-file set: %v, want %v", got, want)
			}
			golden := filepath.Join("testdata", "gateway-haproxy-"+c.name+".golden")
			if *update {
				os.WriteFile(golden, res.Output, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				d, _ := Diff(golden, res.Output)
				t.Errorf("output differs from %s (run with -update to accept):\n%s", golden, d)
			}
			if _, err := os.Stat(c.bin); err != nil {
				t.Logf("%s not installed; golden compared only", c.bin)
				return
			}
			// haproxy -c creates the shm-stats-file: one of the test's own.
			dir := t.TempDir()
			cfg := regexp.MustCompile(`shm-stats-file \S+`).ReplaceAll(res.Output, []byte("shm-stats-file "+filepath.Join(dir, "stats")))
			path := filepath.Join(dir, "haproxy.cfg")
			os.WriteFile(path, cfg, 0o644)
			if out, err := exec.Command(c.bin, "-c", "-f", path).CombinedOutput(); err != nil {
				t.Errorf("%s -c rejects the rendered gateway: %v\n%s", c.bin, err, out)
			}
		})
	}
}
