package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// loadArgs runs loadConfig on a command line of source flags.
func loadArgs(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	var cfg Config
	var loadErr error
	app := &cli.App{Flags: sourceFlags(), Action: func(c *cli.Context) error {
		cfg, loadErr = loadConfig(c)
		return nil
	}}
	if err := app.Run(append([]string{"harender"}, args...)); err != nil {
		t.Fatal(err)
	}
	return cfg, loadErr
}

// configPaths names every path a Config holds.
func configPaths(c Config) map[string]string {
	m := map[string]string{
		"consul token_file":         c.Consul.Client.TokenFile,
		"consul ssl ca_cert":        c.Consul.Client.CAFile,
		"consul ssl cert":           c.Consul.Client.CertFile,
		"consul ssl key":            c.Consul.Client.KeyFile,
		"haproxy binary":            c.HAProxy.Binary,
		"haproxy config":            c.HAProxy.Config,
		"haproxy master_socket":     c.HAProxy.MasterSocket,
		"haproxy runtime_socket":    c.HAProxy.RuntimeSocket,
		"haproxy server_state_file": c.HAProxy.ServerStateFile,
		"haproxy pid_file":          c.HAProxy.PIDFile,
	}
	for i, t := range c.Templates {
		m[fmt.Sprintf("template %d source", i)] = t.Source
		m[fmt.Sprintf("template %d destination", i)] = t.Destination
	}
	maps.DeleteFunc(m, func(_, v string) bool { return v == "" })
	return m
}

const relativeConfig = `consul {
  token_file = "secrets/token"
  ssl {
    ca_cert = "tls/ca.pem"
    cert    = "tls/client.pem"
    key     = "./tls/client-key.pem"
  }
}
template {
  source      = "tmpl/haproxy.cfg.tmpl"
  destination = "out/haproxy.cfg"
}
template {
  contents    = "x"
  destination = "/abs/other"
}
haproxy {
  binary            = "bin/haproxy"
  config            = "out/haproxy.cfg"
  master_socket     = "run/master.sock"
  runtime_socket    = "run/admin.sock"
  server_state_file = "../state/servers"
  pid_file          = "run/haproxy.pid"
}
`

// TestPathsAreAbsolute: relative paths in the config file are relative to
// the file, even when --config is relative, and relative paths in flags
// are relative to the working directory. Either way they come out
// absolute: HAProxy reads a relative socket path as host:port.
func TestPathsAreAbsolute(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"etc/conf", "work"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(root, "etc/conf/h.hcl"), relativeConfig)
	conf := filepath.Join(root, "etc/conf")
	fromFile := map[string]string{
		"consul token_file":         conf + "/secrets/token",
		"consul ssl ca_cert":        conf + "/tls/ca.pem",
		"consul ssl cert":           conf + "/tls/client.pem",
		"consul ssl key":            conf + "/tls/client-key.pem",
		"haproxy binary":            conf + "/bin/haproxy",
		"haproxy config":            conf + "/out/haproxy.cfg",
		"haproxy master_socket":     conf + "/run/master.sock",
		"haproxy runtime_socket":    conf + "/run/admin.sock",
		"haproxy server_state_file": root + "/etc/state/servers",
		"haproxy pid_file":          conf + "/run/haproxy.pid",
		"template 0 source":         conf + "/tmpl/haproxy.cfg.tmpl",
		"template 0 destination":    conf + "/out/haproxy.cfg",
		"template 1 destination":    "/abs/other",
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		m = maps.Clone(m)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	work := filepath.Join(root, "work")
	for _, tc := range []struct {
		name string
		wd   string
		args []string
		want map[string]string
	}{
		{name: "config below", wd: root, args: []string{"--config", "etc/conf/h.hcl"}, want: fromFile},
		{name: "config in wd", wd: conf, args: []string{"--config", "h.hcl"}, want: fromFile},
		{name: "config above", wd: work, args: []string{"--config", "../etc/conf/h.hcl"}, want: fromFile},
		{name: "config absolute", wd: work, args: []string{"--config", conf + "/h.hcl"}, want: fromFile},
		{
			name: "flags", wd: work,
			args: []string{
				"--template", "t.tmpl:out/haproxy.cfg", "--template", "../x.tmpl:/abs/x",
				"--haproxy-config", "./out/haproxy.cfg", "--master-socket", "m.sock", "--runtime-socket", "run/r.sock",
				"--consul-token-file", "../token", "--haproxy-bin", "haproxy",
			},
			want: map[string]string{
				"consul token_file":      root + "/token",
				"haproxy binary":         "haproxy", // found in $PATH
				"haproxy config":         work + "/out/haproxy.cfg",
				"haproxy master_socket":  work + "/m.sock",
				"haproxy runtime_socket": work + "/run/r.sock",
				"template 0 source":      work + "/t.tmpl",
				"template 0 destination": work + "/out/haproxy.cfg",
				"template 1 source":      root + "/x.tmpl",
				"template 1 destination": "/abs/x",
			},
		},
		{
			name: "flags over config", wd: work,
			args: []string{"--config", "../etc/conf/h.hcl", "--master-socket", "m.sock", "--template", "t.tmpl:t.out"},
			want: with(fromFile,
				"haproxy master_socket", work+"/m.sock",
				"template 2 source", work+"/t.tmpl",
				"template 2 destination", work+"/t.out"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(tc.wd)
			cfg, err := loadArgs(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			got := configPaths(cfg)
			for _, k := range slices.Sorted(maps.Keys(got)) {
				if v := got[k]; strings.Contains(v, "/") && !filepath.IsAbs(v) {
					t.Errorf("%s = %q is relative", k, v)
				}
			}
			for _, k := range slices.Sorted(maps.Keys(tc.want)) {
				if got[k] != tc.want[k] {
					t.Errorf("%s = %q, want %q", k, got[k], tc.want[k])
				}
			}
			for k, v := range got {
				if _, ok := tc.want[k]; !ok {
					t.Errorf("unexpected %s = %q", k, v)
				}
			}
		})
	}
}

// TestRelativePathErrorsNameFilesAsGiven: making paths absolute must not
// change how errors name the files: as the user typed them.
func TestRelativePathErrorsNameFilesAsGiven(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		args  []string
		want  string
	}{
		{
			name:  "config error",
			files: map[string]string{"conf/h.hcl": "haproxy {\n  reconcile_interval = \"often\"\n}\n"},
			args:  []string{"--config", "conf/h.hcl"},
			want:  `harender: conf/h.hcl:2:3: reconcile_interval: bad duration "often"`,
		},
		{
			name: "template in config",
			files: map[string]string{
				"conf/h.hcl":  "template {\n  source = \"t.tmpl\"\n  destination = \"out\"\n}\n",
				"conf/t.tmpl": "a\n{{ servce }}\n",
			},
			args: []string{"--config", "conf/h.hcl"},
			want: `harender: conf/t.tmpl:2:4: function "servce" not defined`,
		},
		{
			name: "contents in config",
			files: map[string]string{
				"conf/h.hcl": "template {\n  contents = \"{{ servce }}\"\n  destination = \"out\"\n}\n",
			},
			args: []string{"--config", "./conf/h.hcl"},
			want: `harender: conf/out (contents):1:4: function "servce" not defined`,
		},
		{
			name:  "template flag",
			files: map[string]string{"t.tmpl": "{{ servce }}\n"},
			args:  []string{"--template", "t.tmpl:out"},
			want:  `harender: t.tmpl:1:4: function "servce" not defined`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.files {
				path := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, path, text)
			}
			t.Chdir(dir)
			code, _, stderr := harender(t, append([]string{"check"}, tc.args...)...)
			if code != exitConfig || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q\nwant it to contain %q", code, stderr, tc.want)
			}
		})
	}
}

func TestReconcileInterval(t *testing.T) {
	for _, tc := range []struct {
		name, block string
		want        time.Duration
	}{
		{name: "default", block: "", want: 10 * time.Second},
		{name: "set", block: `haproxy { reconcile_interval = "1m30s" }`, want: 90 * time.Second},
		{name: "zero disables", block: `haproxy { reconcile_interval = "0" }`, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "h.hcl"), tc.block+"\ntemplate {\n  contents = \"x\"\n  destination = \"out\"\n}\n")
			cfg, err := loadArgs(t, "--config", path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HAProxy.ReconcileInterval != tc.want {
				t.Errorf("reconcile_interval %s, want %s", cfg.HAProxy.ReconcileInterval, tc.want)
			}
		})
	}
}
