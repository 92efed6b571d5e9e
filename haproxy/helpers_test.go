package haproxy

import (
	"context"
	"testing"
	"time"

	"github.com/harender/harender/internal/testbin"
)

// contextWithTimeout derives a bounded context from the test's context.
func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	t.Helper()
	return context.WithTimeout(t.Context(), d)
}

// haproxyBin is one HAProxy binary under test.
type haproxyBin struct {
	Path string
	testbin.HAProxyRelease
}

// SyncReload reports whether the master CLI answers `reload` with Success= (2.7+).
func (b haproxyBin) SyncReload() bool { return b.Major > 2 || (b.Major == 2 && b.Minor >= 7) }

// forEachBinary runs f once per HAProxy binary that testbin.ForEachHAProxy
// finds, with its version.
func forEachBinary(t *testing.T, f func(t *testing.T, bin haproxyBin)) {
	t.Helper()
	testbin.ForEachHAProxy(t, func(t *testing.T, path string) {
		f(t, haproxyBin{Path: path, HAProxyRelease: testbin.HAProxyReleaseOf(t, path)})
	})
}
