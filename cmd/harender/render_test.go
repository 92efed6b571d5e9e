package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Static templates need no Consul: these check the render command's own
// contract. The Consul-backed flows are in e2e_render_test.go.

func TestDryRunExitCodesAreDiffs(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "nginx.conf.tmpl"), "upstream gw {\n{{ range loop 2 }}  server 10.0.0.{{ . }};\n{{ end }}}\n")
	dest := filepath.Join(dir, "nginx.conf")
	args := []string{"render", "--template", src + ":" + dest, "--consul-addr", "127.0.0.1:1"}

	code, out, stderr := harender(t, append(args, "--dry-run")...)
	if code != exitDiff {
		t.Fatalf("dry-run against a missing file: exit %d, want 1\n%s", code, stderr)
	}
	for _, want := range []string{"--- " + dest, "+++ " + dest + " (rendered)", "+  server 10.0.0.0;", "+  server 10.0.0.1;"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatal("dry-run wrote the destination")
	}

	if code, _, stderr := harender(t, args...); code != exitOK {
		t.Fatalf("render: exit %d\n%s", code, stderr)
	}
	if code, out, _ := harender(t, append(args, "--dry-run")...); code != exitOK || out != "" {
		t.Errorf("dry-run after render: exit %d, diff %q; want 0 and no diff", code, out)
	}

	writeFile(t, src, "{{ if }}\n")
	if code, _, _ := harender(t, append(args, "--dry-run")...); code != exitConfig {
		t.Errorf("dry-run of a broken template: exit %d, want 2", code)
	}
}

func TestPlainDestinationsNeedNoHAProxy(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "app.json.tmpl"), `{{ toJSON (parseJSON "{\"b\":1,\"a\":[true]}") }}`+"\n")
	dest := filepath.Join(dir, "sub", "app.json")
	code, _, stderr := harender(t, "render", "--template", src+":"+dest, "--haproxy-bin", "/nonexistent/haproxy")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	b, _ := os.ReadFile(dest)
	if string(b) != `{"a":[true],"b":1}`+"\n" {
		t.Errorf("app.json = %q", b)
	}
	fi, _ := os.Stat(dest)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("perms %v, want 0644", fi.Mode().Perm())
	}
}

func TestUnchangedOutputIsNotWritten(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "t.tmpl"), "same\n")
	dest := writeFile(t, filepath.Join(dir, "out"), "same\n")
	old := time.Now().Add(-time.Hour)
	os.Chtimes(dest, old, old)
	if code, _, stderr := harender(t, "render", "-t", src+":"+dest); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	fi, _ := os.Stat(dest)
	if !fi.ModTime().Equal(old) {
		t.Error("an unchanged destination was rewritten")
	}
}

func TestBackupKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "out"), "v1\n")
	cfg := writeFile(t, filepath.Join(dir, "h.hcl"), "template {\n  contents = \"v2\\n\"\n  destination = \"out\"\n  backup = true\n  perms = \"0600\"\n}\n")
	if code, _, stderr := harender(t, "render", "--config", cfg); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.bak")); string(b) != "v1\n" {
		t.Errorf("out.bak = %q", b)
	}
	fi, _ := os.Stat(filepath.Join(dir, "out"))
	if b, _ := os.ReadFile(filepath.Join(dir, "out")); string(b) != "v2\n" || fi.Mode().Perm() != 0o600 {
		t.Errorf("out = %q %v", b, fi.Mode().Perm())
	}
}

// TestDryRunWritesNothing: --dry-run writes no file, writeToFile's
// included; a real render writes it.
func TestDryRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	side := filepath.Join(dir, "side.txt")
	src := writeFile(t, filepath.Join(dir, "t.tmpl"), `{{ "hi" | writeToFile "`+side+`" "" "" "0644" }}main`+"\n")
	dest := filepath.Join(dir, "out")
	if code, _, stderr := harender(t, "render", "--dry-run", "-t", src+":"+dest); code != exitDiff {
		t.Fatalf("dry-run: exit %d, want 1\n%s", code, stderr)
	}
	for _, p := range []string{side, dest} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("--dry-run wrote %s", p)
		}
	}
	if code, _, stderr := harender(t, "render", "-t", src+":"+dest); code != exitOK {
		t.Fatalf("render: exit %d\n%s", code, stderr)
	}
	if b, _ := os.ReadFile(side); string(b) != "hi" {
		t.Errorf("writeToFile wrote %q, want hi", b)
	}
}
