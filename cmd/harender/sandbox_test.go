package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTemplateSandbox runs harender render on templates under
// function_denylist and sandbox_path, as a user writes them: a denied
// function or a path out of the sandbox fails the render with the
// template's file:line:col and the cause, and writes nothing; what is
// allowed renders; the destination has its perms.
func TestTemplateSandbox(t *testing.T) {
	dir := t.TempDir()
	sandbox := filepath.Join(dir, "sandbox")
	outside := filepath.Join(dir, "outside")
	os.MkdirAll(sandbox, 0o755)
	os.MkdirAll(outside, 0o755)
	writeFile(t, filepath.Join(sandbox, "ok"), "inside")
	writeFile(t, filepath.Join(outside, "secret"), "s3cret")
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(sandbox, "link-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(sandbox, "dir-out")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HARENDER_TEST_SECRET", "from-env")

	for i, tc := range []struct {
		name, settings, body string
		want                 string // the output; "" when the render must fail
		err                  string
	}{
		{name: "env denied", settings: `function_denylist = ["plugin", "env", "file"]`,
			body: `{{ env "HARENDER_TEST_SECRET" }}`, err: "at <env \"HARENDER_TEST_SECRET\">: error calling env: function env is denied by function_denylist"},
		{name: "plugin denied", settings: `function_denylist = ["plugin", "env", "file"]`,
			body: `{{ plugin "/bin/echo" "ran" }}`, err: "function plugin is denied by function_denylist"},
		{name: "file denied", settings: `function_denylist = ["plugin", "env", "file"]`,
			body: fmt.Sprintf(`{{ file %q }}`, filepath.Join(sandbox, "ok")), err: "function file is denied by function_denylist"},
		{name: "the old name function_blacklist", settings: `function_blacklist = ["env*"]`,
			body: `{{ envOrDefault "HARENDER_TEST_SECRET" "" }}`, err: "function envOrDefault is denied by function_denylist"},
		{name: "what is not denied works", settings: `function_denylist = ["plugin", "file"]`,
			body: `{{ env "HARENDER_TEST_SECRET" }}`, want: "from-env"},
		{name: "file inside the sandbox", settings: fmt.Sprintf(`sandbox_path = %q`, sandbox),
			body: fmt.Sprintf(`{{ file %q }}`, filepath.Join(sandbox, "ok")), want: "inside"},
		{name: "file ../ out", settings: fmt.Sprintf(`sandbox_path = %q`, sandbox),
			body: fmt.Sprintf(`{{ file %q }}`, sandbox+"/../outside/secret"), err: "outside of sandbox"},
		{name: "file through a link out", settings: fmt.Sprintf(`sandbox_path = %q`, sandbox),
			body: fmt.Sprintf(`{{ file %q }}`, filepath.Join(sandbox, "link-out")), err: "outside of sandbox"},
		{name: "file through a linked directory", settings: fmt.Sprintf(`sandbox_path = %q`, sandbox),
			body: fmt.Sprintf(`{{ file %q }}`, filepath.Join(sandbox, "dir-out", "secret")), err: "outside of sandbox"},
		{name: "writeToFile ../ out", settings: fmt.Sprintf(`sandbox_path = %q`, sandbox),
			body: fmt.Sprintf(`{{ "x" | writeToFile %q "" "" "0600" }}`, sandbox+"/../outside/planted"), err: "outside of sandbox"},
		{name: "writeToFile through a linked directory", settings: fmt.Sprintf(`sandbox_path = %q`, sandbox),
			body: fmt.Sprintf(`{{ "x" | writeToFile %q "" "" "0600" }}`, filepath.Join(sandbox, "dir-out", "planted")), err: "outside of sandbox"},
		{name: "writeToFile inside", settings: fmt.Sprintf(`sandbox_path = %q`, sandbox),
			body: fmt.Sprintf(`{{ "x" | writeToFile %q "" "" "0600" }}w`, filepath.Join(sandbox, "written")), want: "w"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := filepath.Join(dir, fmt.Sprint(i))
			os.MkdirAll(sub, 0o755)
			src := writeFile(t, filepath.Join(sub, "t.tmpl"), "# line 1\n"+tc.body+"\n")
			dest := filepath.Join(sub, "out")
			cfg := writeFile(t, filepath.Join(sub, "h.hcl"), fmt.Sprintf(`
template {
  source      = %q
  destination = %q
  perms       = "0600"
  %s
}
`, src, dest, tc.settings))
			code, _, stderr := harender(t, "render", "--config", cfg, "--timeout", "10s")
			if tc.err != "" {
				if code != exitConfig || !strings.Contains(stderr, src+":2:") || !strings.Contains(stderr, tc.err) {
					t.Errorf("exit %d, stderr:\n%s\nwant exit %d naming %s:2: and %q", code, stderr, exitConfig, src, tc.err)
				}
				if _, err := os.Stat(dest); err == nil {
					t.Error("the destination was written")
				}
				return
			}
			if code != exitOK {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			b, _ := os.ReadFile(dest)
			if got := strings.TrimSpace(strings.TrimPrefix(string(b), "# line 1\n")); got != tc.want {
				t.Errorf("output %q, want %q", got, tc.want)
			}
			if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("destination mode %v, %v; want 0600", fi.Mode(), err)
			}
		})
	}
	entries, _ := os.ReadDir(outside)
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); len(entries) != 1 || string(b) != "s3cret" {
		t.Errorf("the directory outside the sandbox was touched: %d entries, secret %q", len(entries), b)
	}
}
