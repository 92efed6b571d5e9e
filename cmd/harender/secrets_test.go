package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
)

// TestConsulTokenNeverShown runs harender run as a real process against a
// Consul with ACLs (default deny), at --log-level debug, with its token in
// token_file, and walks it through the paths that log and fail: a broken
// template, a token Consul refuses, a rotation to a new token with the old
// one revoked, and render failing on the refused token. No token may show
// in anything harender prints or serves, in --help, or in
// /proc/PID/cmdline. The rotation must need no restart: a change made
// after it reaches HAProxy.
func TestConsulTokenNeverShown(t *testing.T) {
	bin := buildHarender(t)

	// --help, with tokens in every variable a token can come from.
	envToken := testenv.NewUUID(t)
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"render", "--help"}, {"check", "--help"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(cleanEnv(), "CONSUL_HTTP_TOKEN="+envToken, "HARENDER_CONSUL_TOKEN="+envToken)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("harender %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		noSecret(t, "harender "+strings.Join(args, " "), string(out), envToken)
	}

	testenv.ForEachHAProxy(t, func(t *testing.T, hap string) {
		consul, management := testenv.StartConsulACL(t)
		testenv.StartGateway(t, consul, "gateway", "gw-1")
		testenv.StartGateway(t, consul, "gateway", "gw-2")
		consul.WaitPassing(t, "gateway", 2)
		tokenA, accessorA := consul.CreateToken(t, testenv.ReadOnlyRules)
		refused := testenv.NewUUID(t) // no such token in Consul
		secrets := []string{management, tokenA, refused}

		s, src := runSetup(t, consul.Addr, hap, "")
		tokenFile := filepath.Join(s.dir, "consul.token")
		writeFile(t, tokenFile, tokenA+"\n")
		cfg, _ := os.ReadFile(s.config)
		writeFile(t, s.config, strings.Replace(string(cfg), "consul {\n",
			"consul {\n  token_file = \"consul.token\"\n  block_query_wait = \"2s\"\n", 1))
		p := startProcess(t, bin, "run", "--config", s.config, "--listen", "LISTEN", "--log-level", "debug")
		p.waitHealthy(t)
		url := "http://" + s.bind + "/"
		waitAnswers(t, url, 2)
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}

		// Template errors, one that does not parse and one that fails as
		// it runs: logged, and /healthz says why.
		good, _ := os.ReadFile(src)
		writeFile(t, src, string(good)+"{{ if }}\n")
		p.waitLog(t, "the parse error", "does not parse")
		writeFile(t, src, string(good)+"{{ index (service \"gateway\") 99 }}\n")
		p.waitLog(t, "the render error", "render failed")
		broken := p.get(t, "/healthz")
		writeFile(t, src, string(good))

		// A token Consul refuses: every query fails and says why.
		rotate(t, tokenFile, refused)
		p.waitLog(t, "Consul refusing the token", "ACL not found")
		refusedMetrics, refusedHealth := p.get(t, "/metrics"), p.get(t, "/healthz")

		// render says why it could not read Consul, and exits.
		rcmd := exec.Command(bin, "render", "--config", s.config, "--dry-run", "--timeout", "3s", "--log-level", "debug")
		rcmd.Env = cleanEnv()
		renderOut, _ := rcmd.CombinedOutput()
		if !strings.Contains(string(renderOut), "ACL not found") {
			t.Errorf("render with a refused token does not say why:\n%s", renderOut)
		}

		// Rotation: a new token in the file, the old one revoked. The
		// next change reaches HAProxy without a restart.
		tokenB, _ := consul.CreateToken(t, testenv.ReadOnlyRules)
		secrets = append(secrets, tokenB)
		rotate(t, tokenFile, tokenB)
		consul.DeleteToken(t, accessorA)
		testenv.StartGateway(t, consul, "gateway", "gw-3")
		waitAnswersWithin(t, url, 3, 30*time.Second, p.logs.String)
		p.waitHealthy(t)

		pages := map[string]string{
			"/proc/PID/cmdline":              string(cmdline),
			"/healthz, template broken":      broken,
			"/healthz, token refused":        refusedHealth,
			"/metrics, token refused":        refusedMetrics,
			"/healthz":                       p.get(t, "/healthz"),
			"/metrics":                       p.get(t, "/metrics"),
			"harender render, token refused": string(renderOut),
		}
		stdout, stderr := p.stop(t)
		pages["stdout"], pages["stderr (the log)"] = stdout, stderr
		for where, text := range pages {
			noSecret(t, where, text, secrets...)
		}
		// The walk went through the paths it meant to.
		for _, want := range []string{"level=DEBUG", "level=WARN", "level=ERROR", "consul query failed"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("the log has no %q: the test missed a path", want)
			}
		}
		if !strings.Contains(pages["/metrics"], "harender_consul_errors_total") {
			t.Errorf("/metrics counts no Consul error after the refused token")
		}
	})
}

// noSecret fails the test if text holds any of secrets, or a long piece of
// one (a token cut short or wrapped is still a leak).
func noSecret(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, part := range []string{s, s[:18], s[18:]} {
			if strings.Contains(text, part) {
				t.Errorf("%s shows a token (%q):\n%s", where, part, lastLines(text, 20))
				break
			}
		}
	}
}

// rotate replaces the token file as operators do: a new file renamed over.
func rotate(t *testing.T, path, token string) {
	t.Helper()
	tmp := path + ".new"
	writeFile(t, tmp, token+"\n")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// cleanEnv is the test's environment without Consul's or harender's own
// variables, so that only what a test sets reaches the process.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONSUL_") && !strings.HasPrefix(kv, "HARENDER_") {
			env = append(env, kv)
		}
	}
	return env
}

// process is harender as a process of its own.
type process struct {
	cmd          *exec.Cmd
	listen       string
	logs, stdout testenv.LockedBuffer
	done         chan error
}

// startProcess starts bin with args, LISTEN replaced by a free address,
// and stops it when the test ends.
func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{listen: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), done: make(chan error, 1)}
	for i, a := range args {
		if a == "LISTEN" {
			args[i] = p.listen
		}
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = cleanEnv()
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM, waits, and returns what the process printed.
func (p *process) stop(t *testing.T) (stdout, stderr string) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("harender run: %v\n%s", err, lastLines(p.logs.String(), 30))
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("harender run did not stop within 30s of SIGTERM")
	}
	return p.stdout.String(), p.logs.String()
}

// get returns the body of a GET of path on the listen address.
func (p *process) get(t *testing.T, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.listen+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (p *process) waitHealthy(t *testing.T) {
	t.Helper()
	healthy := func() bool {
		resp, err := http.Get("http://" + p.listen + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if !poll(30*time.Second, 100*time.Millisecond, healthy) {
		t.Fatalf("/healthz never answered 200\n%s", lastLines(p.logs.String(), 40))
	}
}

func (p *process) waitLog(t *testing.T, what, sub string) {
	t.Helper()
	if !poll(30*time.Second, 100*time.Millisecond, func() bool { return strings.Contains(p.logs.String(), sub) }) {
		t.Fatalf("timed out waiting for %s (%q in the log)\n%s", what, sub, lastLines(p.logs.String(), 40))
	}
}
