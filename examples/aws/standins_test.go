package aws_test

// Stand-ins for what the scripts talk to on AWS, all on this machine: the
// instance metadata service (IMDSv2 only, on loopback) and the aws and
// systemctl commands (scripts on PATH that record their argv and answer
// from files).

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// imds is a stand-in instance metadata service that speaks IMDSv2 only:
// PUT /latest/api/token with a TTL header gives a token; every GET must
// carry the current token, else 401.
type imds struct {
	url string

	mu       sync.Mutex
	token    string
	tokens   int            // tokens handed out
	noToken  int            // GETs refused for a missing or stale token
	gets     map[string]int // path -> GETs answered
	data     map[string]string
	spotNote string // spot/instance-action body; "" answers 404
}

func startIMDS(t *testing.T) *imds {
	t.Helper()
	m := &imds{token: "token-1", gets: map[string]int{}, data: map[string]string{
		"meta-data/instance-id":      "i-0123",
		"meta-data/placement/region": "eu-west-1",
		"meta-data/local-ipv4":       "10.0.1.5",
		"meta-data/mac":              "0a:1b:2c:3d:4e:5f",
		"meta-data/network/interfaces/macs/0a:1b:2c:3d:4e:5f/interface-id": "eni-0abc",
	}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	m.url = "http://" + l.Addr().String()
	return m
}

func (m *imds) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut || r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "token: PUT with a TTL", http.StatusBadRequest)
			return
		}
		m.tokens++
		fmt.Fprint(w, m.token)
		return
	}
	if r.Header.Get("X-aws-ec2-metadata-token") != m.token {
		m.noToken++
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/latest/")
	m.gets[path]++
	body, ok := m.data[path]
	if path == "meta-data/spot/instance-action" {
		body, ok = m.spotNote, m.spotNote != ""
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	fmt.Fprint(w, body)
}

// set changes a field under the lock.
func (m *imds) set(f func(m *imds)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

// count reads a field under the lock.
func (m *imds) count(f func(m *imds) int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return f(m)
}

// node is one load balancer's world: its node.env, the stand-in commands
// on PATH, and the log of their calls.
type node struct {
	dir, env, calls, stubs string
	imds                   *imds
}

const standIn = `#!/bin/bash
# Stand-in: records "NAME ARGS" and answers from $STUBS/NAME-OP.out, after
# failing the first $STUBS/NAME-OP.fail calls.
name=$(basename "$0")
echo "$name $*" >>"$CALLS"
key="$name-$1${2:+-$2}"
[ "$name" = aws ] || key="$name-$1"
n=$(( $(cat "$STUBS/$key.count" 2>/dev/null || echo 0) + 1 ))
echo "$n" >"$STUBS/$key.count"
if [ "$n" -le "$(cat "$STUBS/$key.fail" 2>/dev/null || echo 0)" ]; then
  echo "An error occurred (RequestLimitExceeded) when calling $key" >&2
  exit 255
fi
cat "$STUBS/$key.out" 2>/dev/null
exit 0
`

func newNode(t *testing.T, settings string) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{dir: dir, env: filepath.Join(dir, "node.env"), calls: filepath.Join(dir, "calls"), stubs: filepath.Join(dir, "stubs"), imds: startIMDS(t)}
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{bin, n.stubs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"aws", "systemctl"} {
		write(t, filepath.Join(bin, name), standIn)
		os.Chmod(filepath.Join(bin, name), 0o755)
	}
	write(t, n.env, settings)
	write(t, n.calls, "")
	return n
}

// answer makes the stand-in answer "NAME OP" with out after failing fail times.
func (n *node) answer(t *testing.T, key, out string, fail int) {
	t.Helper()
	write(t, filepath.Join(n.stubs, key+".out"), out)
	write(t, filepath.Join(n.stubs, key+".fail"), fmt.Sprint(fail))
}

// command runs one of this folder's scripts as keepalived or systemd would,
// with the stand-ins first on PATH.
func (n *node) command(script string, args ...string) *exec.Cmd {
	abs, _ := filepath.Abs(script)
	cmd := exec.Command(abs, args...)
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Join(n.dir, "bin")+":"+os.Getenv("PATH"),
		"HARENDER_AWS_ENV="+n.env, "IMDS="+n.imds.url,
		"CALLS="+n.calls, "STUBS="+n.stubs, "RETRY_WAIT=0",
		// Were the real AWS CLI ever run, it must not look for IMDS.
		"AWS_EC2_METADATA_DISABLED=true",
	)
	return cmd
}

// run runs a script to its end and returns its exit code and output.
func (n *node) run(t *testing.T, script string, args ...string) (int, string) {
	t.Helper()
	out, err := n.command(script, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return 0, string(out)
}

// called is every recorded call, one per line.
func (n *node) called(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(n.calls)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
