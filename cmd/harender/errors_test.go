package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/harender/harender/internal/testenv"
)

const validHAProxy = `global
    log stderr format short local0 notice
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:65080
`

func TestTemplateSyntaxError(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "bad.tmpl"), "line one\n{{ range service \"web\" }}\n  server {{ .Name }\n{{ end }}\n")
	dest := writeFile(t, filepath.Join(dir, "out.cfg"), "old\n")
	for _, cmd := range []string{"check", "render"} {
		code, _, stderr := harender(t, cmd, "--template", src+":"+dest, "--consul-addr", "127.0.0.1:1")
		if code != exitConfig {
			t.Errorf("%s: exit %d, want %d\n%s", cmd, code, exitConfig, stderr)
		}
		want := src + ":3:19: unexpected \"}\" in operand"
		if !strings.Contains(stderr, want) {
			t.Errorf("%s: stderr = %q, want it to contain %q", cmd, stderr, want)
		}
	}
	if b, _ := os.ReadFile(dest); string(b) != "old\n" {
		t.Errorf("destination changed to %q", b)
	}
}

func TestUnknownFunctionNamesFileLineCol(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "typo.tmpl"), "a\nb {{ servce \"web\" }}\n")
	code, _, stderr := harender(t, "check", "--template", src+":"+filepath.Join(dir, "out"))
	if code != exitConfig || !strings.Contains(stderr, src+`:2:6: function "servce" not defined`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestHAProxyRejectsCandidate(t *testing.T) {
	bin := testenv.Require(t, "haproxy", testenv.HAProxyBins()...)
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "haproxy.cfg.tmpl"), validHAProxy+"    no-such-keyword here\n")
	dest := writeFile(t, filepath.Join(dir, "haproxy.cfg"), validHAProxy)
	code, _, stderr := harender(t, "render", "--template", src+":"+dest, "--haproxy-config", dest, "--haproxy-bin", bin)
	if code != exitConfig {
		t.Fatalf("exit %d, want %d\n%s", code, exitConfig, stderr)
	}
	cand := dest + ".candidate"
	for _, want := range []string{"haproxy -c rejected", cand + ":10]", "no-such-keyword", "kept at " + cand} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if b, _ := os.ReadFile(dest); string(b) != validHAProxy {
		t.Error("destination was changed")
	}
	if b, err := os.ReadFile(cand); err != nil || !strings.Contains(string(b), "no-such-keyword") {
		t.Errorf("candidate not kept: %v", err)
	}
}

// TestBadConfigs checks each testdata/bad/NAME.hcl against the error in
// NAME.err, where $FILE stands for the config's path and $DIR for its
// directory.
func TestBadConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.hcl")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(strings.TrimSuffix(path, ".hcl") + ".err")
			if err != nil {
				t.Fatal(err)
			}
			want := strings.NewReplacer("$FILE", path, "$DIR", filepath.Dir(path)).Replace(strings.TrimSpace(string(b)))
			code, _, stderr := harender(t, "check", "--config", path)
			if code != exitConfig || !strings.Contains(stderr, want) {
				t.Errorf("exit %d, stderr %q\nwant it to contain %q", code, stderr, want)
			}
		})
	}
}

func TestConsulDownTimesOutWritingNothing(t *testing.T) {
	var requests int
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		if requests%2 == 0 {
			// Cut the connection.
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		http.Error(w, "rpc error: no leader", http.StatusInternalServerError)
	}))
	defer fake.Close()
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "t.tmpl"), "{{ range service \"web\" }}{{ .Address }}{{ end }}\n")
	dest := filepath.Join(dir, "out")
	tokenFile := writeFile(t, filepath.Join(dir, "token"), "s3cr3t-token-from-file")
	t.Setenv("CONSUL_HTTP_TOKEN", "s3cr3t-token-from-env")
	code, _, stderr := harender(t, "render", "--template", src+":"+dest, "--consul-addr", fake.URL,
		"--consul-token-file", tokenFile, "--timeout", "1500ms", "--log-level", "debug")
	if code != exitUnreachable {
		t.Fatalf("exit %d, want %d\n%s", code, exitUnreachable, stderr)
	}
	if !strings.Contains(stderr, "gave up waiting for Consul") || !regexp.MustCompile(`attempt=\d`).MatchString(stderr) {
		t.Errorf("want retries logged with attempt and a timeout error:\n%s", stderr)
	}
	if strings.Contains(stderr, "s3cr3t") {
		t.Errorf("a token leaked into the output:\n%s", stderr)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("destination written from no data: %v", err)
	}
}

func TestMasterSocketMissing(t *testing.T) {
	bin := testenv.Require(t, "haproxy", testenv.HAProxyBins()...)
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "haproxy.cfg.tmpl"), validHAProxy)
	dest := filepath.Join(dir, "haproxy.cfg")
	sock := filepath.Join(dir, "gone.sock")
	code, _, stderr := harender(t, "render", "--template", src+":"+dest, "--haproxy-config", dest,
		"--haproxy-bin", bin, "--master-socket", sock, "--reload")
	if code != exitUnreachable || !strings.Contains(stderr, sock) {
		t.Errorf("exit %d (want %d), stderr %q should name %s", code, exitUnreachable, stderr, sock)
	}
	if b, _ := os.ReadFile(dest); string(b) != validHAProxy {
		t.Error("the new file is not in place")
	}
}

func TestHelpTeachesAndHidesSecrets(t *testing.T) {
	t.Setenv("CONSUL_HTTP_TOKEN", "s3cr3t-token")
	t.Setenv("HARENDER_CONSUL_TOKEN_FILE", "/run/secrets/consul-token")
	for _, cmd := range []string{"render", "check"} {
		code, out, _ := harender(t, cmd, "--help")
		if code != exitOK {
			t.Errorf("%s --help: exit %d", cmd, code)
		}
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "harender "+cmd) {
			t.Errorf("%s --help has no example:\n%s", cmd, out)
		}
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("%s --help shows a token", cmd)
		}
	}
}
