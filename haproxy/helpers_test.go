package haproxy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// contextWithTimeout derives a bounded context from the test's context.
func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	t.Helper()
	return context.WithTimeout(t.Context(), d)
}

// haproxyBin is one HAProxy binary under test.
type haproxyBin struct {
	Path    string
	Version string // e.g. "2.6.12-1+deb12u4"
	Major   int
	Minor   int
}

// SyncReload reports whether the master CLI answers `reload` with Success= (2.7+).
func (b haproxyBin) SyncReload() bool { return b.Major > 2 || (b.Major == 2 && b.Minor >= 7) }

// binaryCandidates lists the binaries to test: $HAPROXY_BINS (colon separated),
// else $HAPROXY_BIN, else `haproxy` on PATH, Debian's /usr/sbin/haproxy and the
// 3.0 build in ../bin/haproxy-3.0.
func binaryCandidates() []string {
	if v := os.Getenv("HAPROXY_BINS"); v != "" {
		return strings.Split(v, ":")
	}
	if v := os.Getenv("HAPROXY_BIN"); v != "" {
		return []string{v}
	}
	return []string{"haproxy", "/usr/sbin/haproxy", "../bin/haproxy-3.0"}
}

// forEachBinary runs f once per available HAProxy binary, as a subtest named
// after its version. A missing binary skips, or fails under CI=true.
func forEachBinary(t *testing.T, f func(t *testing.T, bin haproxyBin)) {
	t.Helper()
	versionRE := regexp.MustCompile(`(?m)^HA-?Proxy version ((\d+)\.(\d+)\S*)`)
	seen := map[string]bool{}
	for _, cand := range binaryCandidates() {
		path, err := exec.LookPath(cand)
		if err == nil {
			path, err = filepath.Abs(path)
		}
		if err == nil {
			path, err = filepath.EvalSymlinks(path)
		}
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("haproxy binary %q missing under CI=true: %v", cand, err)
			}
			t.Logf("skipping haproxy binary %q: %v", cand, err)
			continue
		}
		if seen[path] {
			continue
		}
		seen[path] = true
		out, err := exec.CommandContext(t.Context(), path, "-v").CombinedOutput()
		m := versionRE.FindStringSubmatch(string(out))
		if err != nil || m == nil {
			t.Fatalf("%s -v: %v\n%s", path, err, out)
		}
		major, _ := strconv.Atoi(m[2])
		minor, _ := strconv.Atoi(m[3])
		bin := haproxyBin{Path: path, Version: m[1], Major: major, Minor: minor}
		t.Run(m[2]+"."+m[3], func(t *testing.T) { f(t, bin) })
	}
	if len(seen) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("no haproxy binary found under CI=true")
		}
		t.Skip("no haproxy binary found; set HAPROXY_BIN or HAPROXY_BINS")
	}
}
