package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCheckRunsNoProgram: check needs nothing and changes nothing, so a
// template's plugin does not run under it; render does run it.
func TestCheckRunsNoProgram(t *testing.T) {
	if _, err := exec.LookPath("touch"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("touch not found: %v", err)
		}
		t.Skipf("touch not found: %v", err)
	}
	for _, tc := range []struct {
		cmd     string
		wantRan bool
	}{
		{cmd: "check", wantRan: false},
		{cmd: "render", wantRan: true},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			dir := t.TempDir()
			marker := filepath.Join(dir, "plugin-ran")
			src := writeFile(t, filepath.Join(dir, "app.conf.tmpl"), `x={{ plugin "touch" "`+marker+`" }}`+"\n")
			dest := filepath.Join(dir, "app.conf")
			code, _, stderr := harender(t, tc.cmd, "--template", src+":"+dest, "--haproxy-bin", "/nonexistent/haproxy")
			if code != exitOK {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if _, err := os.Stat(marker); (err == nil) != tc.wantRan {
				t.Errorf("plugin ran: %v, want %v", err == nil, tc.wantRan)
			}
		})
	}
}
