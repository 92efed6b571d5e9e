// Package testenv starts the real programs that end-to-end tests need:
// a Consul dev agent, HAProxy in master-worker mode, gateway instances. It
// is imported by tests only.
package testenv

import (
	"testing"

	"github.com/harender/harender/internal/testbin"
)

// The binaries live in testbin, which the haproxy package's own tests use:
// testenv imports haproxy, so they cannot import testenv.

// Require returns the path of a needed binary. Locally a missing binary
// skips the test; under CI=true it fails it.
func Require(t testing.TB, what string, candidates ...string) string {
	t.Helper()
	return testbin.Require(t, what, candidates...)
}

// RepoBin is the repository's bin folder, where make deps puts binaries.
func RepoBin() string { return testbin.RepoBin() }

// HAProxyBins lists the HAProxy binaries to test against.
func HAProxyBins() []string { return testbin.HAProxyBins() }

// ForEachHAProxy runs f as a subtest per HAProxy binary.
func ForEachHAProxy(t *testing.T, f func(t *testing.T, bin string)) {
	t.Helper()
	testbin.ForEachHAProxy(t, f)
}

// HAProxyRelease is a binary's version, as `haproxy -v` prints it.
type HAProxyRelease = testbin.HAProxyRelease

// HAProxyReleaseOf runs bin -v and parses the version.
func HAProxyReleaseOf(t testing.TB, bin string) HAProxyRelease {
	t.Helper()
	return testbin.HAProxyReleaseOf(t, bin)
}

// FreePort is testbin.FreePort: a loopback port free for TCP and UDP,
// never handed out twice in one test binary.
func FreePort(t testing.TB) int {
	t.Helper()
	return testbin.FreePort(t)
}
