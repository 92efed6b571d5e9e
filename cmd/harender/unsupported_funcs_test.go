package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnsupportedFuncs: check and render both reject a template that uses a
// consul-template function harender leaves out, with exit 2, file:line:col
// and the part of consul-template it belongs to, and write nothing. Neither
// needs Consul: the template fails to parse.
func TestUnsupportedFuncs(t *testing.T) {
	for _, tc := range []struct {
		name, text, pos, cause string
	}{
		{name: "vault", text: "global\n  crt-base /etc/ssl\n{{ with secret \"pki/issue/web\" }}{{ .Data.certificate }}{{ end }}\n",
			pos: ":3:9:", cause: `function "secret" belongs to consul-template's Vault support and is not supported by harender`},
		{name: "nomad", text: "backend web\n{{- range nomadService \"web\" }}\n  server {{ .ID }} {{ .Address }}:{{ .Port }}\n{{- end }}\n",
			pos: ":2:11:", cause: `function "nomadService" belongs to consul-template's Nomad support and is not supported by harender`},
		{name: "connect ca", text: "{{ range caRoots }}{{ .RootCertPEM }}{{ end }}\n",
			pos: ":1:10:", cause: `function "caRoots" belongs to consul-template's Consul Connect CA support and is not supported by harender`},
	} {
		for _, cmd := range []string{"check", "render"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				dir := t.TempDir()
				src := writeFile(t, filepath.Join(dir, "haproxy.cfg.tmpl"), tc.text)
				dest := filepath.Join(dir, "haproxy.cfg")
				code, _, stderr := harender(t, cmd, "--template", src+":"+dest,
					"--consul-addr", "127.0.0.1:1", "--haproxy-bin", "/nonexistent/haproxy")
				if code != exitConfig {
					t.Errorf("exit %d, want %d", code, exitConfig)
				}
				if want := src + tc.pos + " " + tc.cause; !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
				if strings.Contains(stderr, "not defined") {
					t.Errorf("stderr still says not defined:\n%s", stderr)
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 1 {
					t.Errorf("%d files in the directory, want only the template", len(entries))
				}
			})
		}
	}
}
