package renderer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSystemFuncs(t *testing.T) {
	runHelperCases(t, []helperCase{
		{name: "env", tmpl: `{{ env "HR_SET" }}|{{ env "HR_UNSET" }}|{{ env "HR_EMPTY" }}`, want: "val||"},
		{name: "envOrDefault", tmpl: `{{ envOrDefault "HR_SET" "d" }}|{{ envOrDefault "HR_UNSET" "d" }}|{{ envOrDefault "HR_EMPTY" "d" }}`, want: "val|d|"},
		{name: "mustEnv", tmpl: `{{ mustEnv "HR_SET" }}`, want: "val"},
		{name: "mustEnv unset", tmpl: `{{ mustEnv "HR_UNSET" }}`, wantErr: "error calling mustEnv: required environment variable HR_UNSET is empty"},
		{name: "mustEnv empty", tmpl: `{{ mustEnv "HR_EMPTY" }}`, wantErr: "error calling mustEnv: required environment variable HR_EMPTY is empty"},

		{name: "timestamp", tmpl: `{{ timestamp }}`, want: "2024-02-29T13:04:05Z"},
		{name: "timestamp layout", tmpl: `{{ timestamp "2006-01-02" }}`, want: "2024-02-29"},
		{name: "timestamp unix", tmpl: `{{ timestamp "unix" }}`, want: "1709211845"},
		{name: "timestamp two args", tmpl: `{{ timestamp "a" "b" }}`, wantErr: "error calling timestamp: timestamp: wrong number of arguments, expected 0 or 1, but got 2"},

		{name: "plugin empty name", tmpl: `{{ plugin "" }}`, want: ""},
		{name: "plugin missing", tmpl: `{{ plugin "/nonexistent/harender-plugin" }}`, wantErr: "error calling plugin: exec \"/nonexistent/harender-plugin\": fork/exec /nonexistent/harender-plugin: no such file or directory\n\nstdout:\n\n\n\nstderr:\n\n"},
	})
}

func TestPlugin(t *testing.T) {
	for _, bin := range []string{"echo", "sh"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found: %v", bin, err)
			}
			t.Skipf("%s not found: %v", bin, err)
		}
	}
	runHelperCases(t, []helperCase{
		{name: "echo", tmpl: `{{ "1" | plugin "echo" }}`, want: "1"},
		{name: "args trimmed and empty dropped", tmpl: `{{ plugin "echo" " a " "" "\n" "b" }}`, want: "a b"},
		{name: "failure quotes output", tmpl: `{{ plugin "sh" "-c" "echo out; echo err >&2; exit 3" }}`, wantErr: "error calling plugin: exec \"sh\": exit status 3\n\nstdout:\n\nout\n\n\nstderr:\n\nerr\n"},
	})
}

// TestPluginNoExec checks that under NoExec plugin runs nothing and gives
// "", whether set when parsing or on a parsed template.
func TestPluginNoExec(t *testing.T) {
	if _, err := exec.LookPath("touch"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("touch not found: %v", err)
		}
		t.Skipf("touch not found: %v", err)
	}
	for _, tc := range []struct {
		name    string
		parse   Options
		noExec  bool
		want    string
		wantRan bool
	}{
		{name: "runs by default", want: "[]", wantRan: true},
		{name: "Options.NoExec", parse: Options{NoExec: true}, want: "[]"},
		{name: "WithNoExec", noExec: true, want: "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "ran")
			tmpl, err := Parse("t", `[{{ plugin "touch" "`+marker+`" }}]`, tc.parse)
			if err != nil {
				t.Fatal(err)
			}
			if tc.noExec {
				tmpl = tmpl.WithNoExec()
			}
			res, err := tmpl.Execute(nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Output) != tc.want {
				t.Errorf("output %q, want %q", res.Output, tc.want)
			}
			if _, err := os.Stat(marker); (err == nil) != tc.wantRan {
				t.Errorf("plugin ran: %v, want %v", err == nil, tc.wantRan)
			}
		})
	}
}

// A plugin that leaves a child holding its output returns once it exits
// (plus proc.WaitDelay), not when the child does, and the child is killed.
func TestPluginChildLeftBehind(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	start := time.Now()
	_, err := fnPlugin("sh", "-c", "sleep 60 & echo $! > "+pidFile)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("plugin took %s: held by its child", took)
	}
	if err == nil {
		t.Error("a plugin whose child held its output succeeded")
	}
	b, _ := os.ReadFile(pidFile)
	time.Sleep(100 * time.Millisecond)
	if st, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
		t.Errorf("child still running: %s", st)
	}
}
