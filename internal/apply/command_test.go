package apply

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/internal/proc"
)

// TestCommandTimeoutHoldsWithChildren: a command that leaves a child
// holding its output, or that outlives command_timeout, returns within the
// timeout plus the wait delay, is counted as failed, and leaves nothing
// running. (sh -c "sleep 60 &" used to block for 60 s.)
func TestCommandTimeoutHoldsWithChildren(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		argv    []string
		timeout time.Duration
		logged  string
	}{
		{"child left behind", []string{"sh", "-c", "sleep 60 & echo $! > " + filepath.Join(dir, "child.pid")}, 5 * time.Second, "left a child"},
		{"timeout", []string{"sh", "-c", "sleep 60 & echo $! > " + filepath.Join(dir, "child.pid") + "; sleep 60"}, time.Second, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			m := NewMetrics(nil)
			r := newCommandRunner(slog.New(slog.NewTextHandler(&logs, nil)), m)
			start := time.Now()
			r.queue(t.Context(), Output{Dest: "x", Command: tt.argv, CommandTimeout: tt.timeout})
			r.close(context.Background())
			took := time.Since(start)
			if limit := tt.timeout + proc.WaitDelay + 2*time.Second; took > limit {
				t.Errorf("took %s, want at most %s", took, limit)
			}
			if got := counter(m.Commands.WithLabelValues("failed")); got != 1 {
				t.Errorf("failed = %v, want 1\n%s", got, logs.String())
			}
			if !strings.Contains(logs.String(), tt.logged) {
				t.Errorf("log does not say %q:\n%s", tt.logged, logs.String())
			}
			b, _ := os.ReadFile(filepath.Join(dir, "child.pid"))
			pid := strings.TrimSpace(string(b))
			time.Sleep(100 * time.Millisecond)
			if st, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
				t.Errorf("child %s still running: %s", pid, st)
			}
		})
	}
}
