package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"time"
)

// defaultCommandTimeout bounds a template's command when command_timeout
// is not set, as consul-template's default.
const defaultCommandTimeout = 30 * time.Second

// runCommand runs a template's command once, as an argv with no shell,
// after its output changed. A failure is logged with its exit code and
// stderr, and counted; it does not stop the sidecar.
func (s *sidecar) runCommand(ctx context.Context, j *job) {
	timeout := j.cfg.CommandTimeout
	if timeout <= 0 {
		timeout = defaultCommandTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, j.cfg.Command[0], j.cfg.Command[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	if err == nil {
		s.m.commands.WithLabelValues("ok").Inc()
		s.log.Info("command ran", "destination", j.cfg.Destination, "command", j.cfg.Command[0], "took", time.Since(start).Round(time.Millisecond))
		return
	}
	s.m.commands.WithLabelValues("failed").Inc()
	code := -1
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	if cctx.Err() == context.DeadlineExceeded {
		err = errors.New("timed out after " + timeout.String())
	}
	s.log.Error("command failed", "destination", j.cfg.Destination, "command", j.cfg.Command[0],
		"exit_code", code, "error", err, "stderr", strings.TrimSpace(stderr.String()))
}
