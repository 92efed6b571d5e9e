package apply

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/harender/harender/internal/proc"
)

// defaultCommandTimeout bounds a command when command_timeout is not set,
// as consul-template's default.
const defaultCommandTimeout = 30 * time.Second

// commandRunner runs template commands one at a time, off the engine's
// goroutine, so that a slow command delays no other change.
type commandRunner struct {
	log  *slog.Logger
	m    *Metrics
	mu   sync.Mutex
	jobs []Output
	busy bool
	wg   sync.WaitGroup
	ctx  context.Context // of the running batch, cancelled by close
	stop context.CancelFunc
}

func newCommandRunner(log *slog.Logger, m *Metrics) *commandRunner {
	ctx, stop := context.WithCancel(context.Background())
	return &commandRunner{log: log, m: m, ctx: ctx, stop: stop}
}

// queue runs o's command after those queued before it.
func (r *commandRunner) queue(_ context.Context, o Output) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, o)
	if r.busy {
		return
	}
	r.busy = true
	r.wg.Add(1)
	go r.drain()
}

func (r *commandRunner) drain() {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		if len(r.jobs) == 0 || r.ctx.Err() != nil {
			r.jobs, r.busy = nil, false
			r.mu.Unlock()
			return
		}
		o := r.jobs[0]
		r.jobs = r.jobs[1:]
		r.mu.Unlock()
		r.run(o)
	}
}

// close waits for queued commands until ctx ends, then kills the rest.
func (r *commandRunner) close(ctx context.Context) {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.stop()
		<-done
	}
	r.stop()
}

// run runs one command as an argv, in its own process group, which is
// killed at the timeout; children it leaves behind are killed too.
func (r *commandRunner) run(o Output) {
	timeout := o.CommandTimeout
	if timeout <= 0 {
		timeout = defaultCommandTimeout
	}
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	var stderr bytes.Buffer
	start := time.Now()
	err := proc.Run(ctx, o.Command, nil, &limited{w: &stderr, n: 4096})
	took := time.Since(start).Round(time.Millisecond)
	if err == nil {
		r.m.Commands.WithLabelValues("ok").Inc()
		r.log.Info("command ran", "destination", o.Dest, "command", o.Command[0], "took", took)
		return
	}
	r.m.Commands.WithLabelValues("failed").Inc()
	code := -1
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		err = errors.New("timed out after " + timeout.String() + "; its process group was killed")
	case errors.Is(err, exec.ErrWaitDelay):
		err = errors.New("exited but left a child holding its output; the child was killed")
	}
	r.log.Error("command failed", "destination", o.Dest, "command", o.Command[0],
		"exit_code", code, "took", took, "error", err, "stderr", strings.TrimSpace(stderr.String()))
}

// limited keeps the first n bytes written to it.
type limited struct {
	w interface{ Write([]byte) (int, error) }
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
