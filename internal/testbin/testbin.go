// Package testbin finds the real binaries that integration tests run
// against, and free ports for them. It imports nothing of ours, so that the
// tests of any package (haproxy's included) can use it; testenv, which
// starts those binaries through our own packages, builds on it.
package testbin

import (
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Require returns the path of a needed binary. Locally a missing binary
// skips the test; under CI=true it fails it.
func Require(t testing.TB, what string, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (tried %s); CI=true, so this is a failure", what, strings.Join(candidates, ", "))
	}
	t.Skipf("%s not found (tried %s)", what, strings.Join(candidates, ", "))
	return ""
}

// RepoBin is the repository's bin folder, where make deps puts binaries.
func RepoBin() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "bin")
}

// HAProxyBins lists the HAProxy binaries to test against: $HAPROXY_BINS
// (colon-separated), else Debian's 2.6 and the repo's 3.0 and 3.4, oldest
// first.
func HAProxyBins() []string {
	if v := os.Getenv("HAPROXY_BINS"); v != "" {
		return strings.Split(v, ":")
	}
	return []string{"/usr/sbin/haproxy", filepath.Join(RepoBin(), "haproxy-3.0"), filepath.Join(RepoBin(), "haproxy-3.4")}
}

// ForEachHAProxy runs f as a subtest per HAProxy binary, named after its
// file. A missing binary skips its subtest, or fails it under CI=true.
func ForEachHAProxy(t *testing.T, f func(t *testing.T, bin string)) {
	for _, b := range HAProxyBins() {
		name := filepath.Base(b)
		t.Run(name, func(t *testing.T) {
			f(t, Require(t, "haproxy", b))
		})
	}
}

// HAProxyRelease is a binary's version, as `haproxy -v` prints it.
type HAProxyRelease struct {
	Version string // e.g. "2.6.12-1+deb12u4"
	Major   int
	Minor   int
}

var haproxyVersionRE = regexp.MustCompile(`(?m)^HA-?Proxy version ((\d+)\.(\d+)\S*)`)

// HAProxyReleaseOf runs bin -v and parses the version; it fails the test
// if there is none.
func HAProxyReleaseOf(t testing.TB, bin string) HAProxyRelease {
	t.Helper()
	out, err := exec.Command(bin, "-v").CombinedOutput()
	m := haproxyVersionRE.FindStringSubmatch(string(out))
	if err != nil || m == nil {
		t.Fatalf("%s -v: %v\n%s", bin, err, out)
	}
	major, _ := strconv.Atoi(m[2])
	minor, _ := strconv.Atoi(m[3])
	return HAProxyRelease{Version: m[1], Major: major, Minor: minor}
}

// FreePort returns a loopback port that is free for TCP and UDP, picked
// below the kernel's ephemeral range (32768 and up), so that no outgoing
// connection takes it before the test binds it, and never handed out twice
// in one test binary (the kernel may give the same ephemeral port twice in
// a row, which once gave a Consul agent one port for two Serf pools).
func FreePort(t testing.TB) int {
	t.Helper()
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if ports.given == nil {
		ports.given = map[int]bool{}
	}
	for range 200 {
		p := 20000 + rand.IntN(12000)
		if !ports.given[p] && portFree(p) {
			ports.given[p] = true
			return p
		}
	}
	t.Fatal("no free loopback port in 20000-31999 after 200 tries")
	return 0
}

// ports records what FreePort handed out in this process.
var ports struct {
	mu    sync.Mutex
	given map[int]bool
}

func portFree(p int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	u.Close()
	return true
}
