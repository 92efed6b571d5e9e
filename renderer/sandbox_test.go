package renderer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harender/harender/watch"
)

// sandboxTree makes DIR/sandbox with a file, a link to it, a link out of
// the sandbox and a linked directory out of it, and DIR/outside/secret.
func sandboxTree(t *testing.T) (sandbox, outside string) {
	t.Helper()
	dir := t.TempDir()
	sandbox, outside = filepath.Join(dir, "sandbox"), filepath.Join(dir, "outside")
	for _, d := range []string{filepath.Join(sandbox, "sub"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeTestFile(t, filepath.Join(sandbox, "sub", "ok"), "ok", 0o644)
	writeTestFile(t, filepath.Join(outside, "secret"), "secret", 0o644)
	links := map[string]string{
		"sub/ok-link":  filepath.Join(sandbox, "sub", "ok"),
		"rel-ok-link":  "sub/ok",
		"secret-link":  filepath.Join(outside, "secret"),
		"rel-out-link": "../outside/secret",
		"out-dir":      outside,
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(sandbox, name)); err != nil {
			t.Fatal(err)
		}
	}
	return sandbox, outside
}

func TestResolveInSandbox(t *testing.T) {
	sandbox, outside := sandboxTree(t)
	for _, tc := range []struct {
		name, sandbox, path string
		want                string // "" with out
		out                 bool
	}{
		{name: "no sandbox: any path, cleaned", path: "/etc/../etc/passwd", want: "/etc/passwd"},
		{name: "inside", sandbox: sandbox, path: sandbox + "/sub/ok", want: sandbox + "/sub/ok"},
		{name: "../ that stays inside", sandbox: sandbox, path: sandbox + "/sub/../sub/ok", want: sandbox + "/sub/ok"},
		{name: "the sandbox itself", sandbox: sandbox, path: sandbox, want: sandbox},
		{name: "link inside to inside", sandbox: sandbox, path: sandbox + "/sub/ok-link", want: sandbox + "/sub/ok"},
		{name: "relative link inside to inside", sandbox: sandbox, path: sandbox + "/rel-ok-link", want: sandbox + "/sub/ok"},
		{name: "not there yet, inside", sandbox: sandbox, path: sandbox + "/new/dir/file", want: sandbox + "/new/dir/file"},
		{name: "../ out", sandbox: sandbox, path: sandbox + "/../outside/secret", out: true},
		{name: "../ out to a sibling with the same prefix", sandbox: sandbox, path: sandbox + "/../sandbox-evil/x", out: true},
		{name: "absolute path out", sandbox: sandbox, path: "/etc/passwd", out: true},
		{name: "link out", sandbox: sandbox, path: sandbox + "/secret-link", out: true},
		{name: "relative link out", sandbox: sandbox, path: sandbox + "/rel-out-link", out: true},
		{name: "through a linked directory", sandbox: sandbox, path: sandbox + "/out-dir/secret", out: true},
		{name: "new file through a linked directory", sandbox: sandbox, path: sandbox + "/out-dir/new", out: true},
		{name: "sandbox given through a link", sandbox: sandbox + "/out-dir", path: outside + "/secret", want: outside + "/secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveInSandbox(tc.sandbox, tc.path)
			if tc.out {
				if !errors.Is(err, ErrOutsideSandbox) {
					t.Fatalf("resolveInSandbox(%s) = %q, %v; want ErrOutsideSandbox", tc.path, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("resolveInSandbox(%s) = %q, %v; want %q", tc.path, got, err, tc.want)
			}
		})
	}
	if _, err := resolveInSandbox(filepath.Join(sandbox, "missing"), "/x"); err == nil || !strings.Contains(err.Error(), "sandbox_path") {
		t.Errorf("a missing sandbox: err = %v, want one naming sandbox_path", err)
	}
}

// TestSandboxFile runs file through a template: inside the sandbox it
// reads (the dependency is the resolved path), outside it fails, naming
// the path, and records no dependency.
func TestSandboxFile(t *testing.T) {
	sandbox, _ := sandboxTree(t)
	ok, _ := watch.NewFileQuery(filepath.Join(sandbox, "sub", "ok"))
	data := mapRecaller{ok.String(): "ok"}
	for _, tc := range []struct{ path, want, err string }{
		{path: sandbox + "/sub/ok", want: "ok"},
		{path: sandbox + "/sub/ok-link", want: "ok"},
		{path: sandbox + "/../outside/secret", err: "outside of sandbox"},
		{path: sandbox + "/secret-link", err: "outside of sandbox"},
		{path: sandbox + "/out-dir/secret", err: "outside of sandbox"},
	} {
		tmpl, err := Parse("t.tmpl", `{{ file "`+tc.path+`" }}`, Options{SandboxPath: sandbox})
		if err != nil {
			t.Fatal(err)
		}
		res, err := tmpl.Execute(data)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "t.tmpl:1:") {
				t.Errorf("file %s: err = %v, want t.tmpl:1: ... %s", tc.path, err, tc.err)
			}
			if res != nil && len(res.Used) != 0 {
				t.Errorf("file %s: a refused path was recorded as a dependency: %v", tc.path, res.Used)
			}
			continue
		}
		if err != nil || string(res.Output) != tc.want {
			t.Errorf("file %s = %q, %v; want %q", tc.path, res.Output, err, tc.want)
		}
	}
}

// TestSandboxWriteToFile: writeToFile honours sandbox_path too (an
// extension: consul-template sandboxes file only); nothing is written or
// created outside, not even a directory.
func TestSandboxWriteToFile(t *testing.T) {
	sandbox, outside := sandboxTree(t)
	for _, tc := range []struct{ path, err string }{
		{path: sandbox + "/sub/new.pem"},
		{path: sandbox + "/made/dir/new.pem"},
		{path: sandbox + "/../outside/new.pem", err: "outside of sandbox"},
		{path: sandbox + "/../outside/made/new.pem", err: "outside of sandbox"},
		{path: sandbox + "/out-dir/new.pem", err: "outside of sandbox"},
		{path: sandbox + "/secret-link", err: "outside of sandbox"},
	} {
		tmpl, err := Parse("t.tmpl", `{{ "x" | writeToFile "`+tc.path+`" "" "" "0600" }}`, Options{SandboxPath: sandbox})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tmpl.Execute(nil)
		if tc.err == "" {
			if b, rerr := os.ReadFile(tc.path); err != nil || rerr != nil || string(b) != "x" {
				t.Errorf("writeToFile %s: %v, %v, %q", tc.path, err, rerr, b)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("writeToFile %s: err = %v, want %s", tc.path, err, tc.err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
		t.Errorf("the file outside was changed: %q", b)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("something was created outside the sandbox: %v", entries)
	}
	// check (NoExec) needs no sandbox and writes nothing.
	tmpl, _ := Parse("t.tmpl", `{{ "x" | writeToFile "/nowhere/x" "" "" "0600" }}`, Options{SandboxPath: "/nowhere", NoExec: true})
	if _, err := tmpl.Execute(nil); err != nil {
		t.Errorf("under NoExec: %v", err)
	}
}

func TestFunctionDenylist(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text string
		deny       []string
		want, err  string
	}{
		{name: "env denied", text: `{{ env "HOME" }}`, deny: []string{"env"}, err: `t.tmpl:1:3: at <env "HOME">: error calling env: function env is denied by function_denylist`},
		{name: "plugin denied", text: `{{ plugin "/bin/echo" "hi" }}`, deny: []string{"plugin"}, err: "function plugin is denied"},
		{name: "file denied", text: `{{ file "/etc/hostname" }}`, deny: []string{"file"}, err: "function file is denied"},
		{name: "writeToFile denied, nothing written", text: `{{ "x" | writeToFile "` + dir + `/w" "" "" "0644" }}`, deny: []string{"writeToFile"}, err: "function writeToFile is denied"},
		{name: "glob", text: `{{ sprig_upper "a" }}`, deny: []string{"sprig_*"}, err: "function sprig_upper is denied"},
		{name: "glob in the middle", text: `{{ mustEnv "HOME" }}`, deny: []string{"m*Env"}, err: "function mustEnv is denied"},
		{name: "others still work", text: `{{ toUpper "a" }}`, deny: []string{"env", "plugin", "file"}, want: "A"},
		{name: "a denied function not called is no error", text: `{{ if false }}{{ env "HOME" }}{{ end }}ok`, deny: []string{"env"}, want: "ok"},
		{name: "no denylist", text: `{{ envOrDefault "HARENDER_NO_SUCH_VAR" "d" }}`, want: "d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := Parse("t.tmpl", tc.text, Options{FunctionDenylist: tc.deny})
			if err != nil {
				t.Fatal(err)
			}
			res, err := tmpl.Execute(nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil || string(res.Output) != tc.want {
				t.Fatalf("= %q, %v; want %q", res.Output, err, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "w")); err == nil {
		t.Error("a denied writeToFile wrote its file")
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"env", "env", true}, {"env", "envOrDefault", false}, {"env*", "envOrDefault", true},
		{"*", "", true}, {"*Env", "mustEnv", true}, {"a*a", "a", false}, {"a*a", "aa", true},
		{"a*b*c", "axxbyyc", true}, {"a*b*c", "acb", false}, {"", "", true}, {"", "x", false},
	} {
		if got := globMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}
