package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/renderer"
)

// haproxyState is what the sidecar knows of the HAProxy it drives: the
// config it runs, and whether a reload is owed.
type haproxyState struct {
	cfg HAProxyConfig
	m   *metrics
	log *slog.Logger

	running    []byte // the config HAProxy runs (as far as we know)
	pending    bool   // the file on disk is newer than what HAProxy runs
	lastReload time.Time
	attempt    int // consecutive failed reloads, for backoff
	timer      *time.Timer
	proc       *exec.Cmd // HAProxy, when harender started it
}

func newHAProxyState(cfg HAProxyConfig, m *metrics, log *slog.Logger) *haproxyState {
	h := &haproxyState{cfg: cfg, m: m, log: log}
	if cfg.Config != "" {
		// An HAProxy already running is taken to run the file on disk.
		h.running, _ = os.ReadFile(cfg.Config)
	}
	return h
}

// apply stages out as HAProxy's config, checks it, and brings HAProxy along:
// through the runtime API when only servers changed (see haproxy.Plan),
// else with a reload (at most one per min_reload_interval).
func (h *haproxyState) apply(ctx context.Context, j *job, out []byte, reason string) (bool, error) {
	dest := j.cfg.Destination
	if renderer.Unchanged(dest, out) {
		return false, nil
	}
	st, err := renderer.Stage(dest, out, writeOptions(j.cfg))
	if err != nil {
		return false, err
	}
	if err := checkStaged(ctx, h.cfg.Binary, st); err != nil {
		h.m.checkFailures.Inc()
		return false, err
	}
	hash := shortHash(out)
	if h.tryRuntime(ctx, out, hash, reason) {
		if err := st.Commit(); err != nil {
			return false, err
		}
		h.running = out
		return true, nil
	}
	if err := h.saveServerState(ctx, out); err != nil {
		h.log.Warn("could not save server state; servers start with their configured state", "error", err)
	}
	if err := st.Commit(); err != nil {
		return false, err
	}
	h.log.Info("rendered", "destination", dest, "reason", reason, "hash", hash)
	if h.cfg.Reload == "never" {
		return true, nil
	}
	h.pending = true
	if err := h.ensureStarted(ctx); err != nil {
		return true, err
	}
	return true, h.reloadSoon(ctx, reason)
}

// tryRuntime applies the change through the runtime API when that is
// enough, and reports whether it was.
func (h *haproxyState) tryRuntime(ctx context.Context, out []byte, hash, reason string) bool {
	if h.cfg.Reload != "auto" || h.cfg.RuntimeSocket == "" || h.pending || h.running == nil || h.proc == nil && !h.socketExists() {
		return false
	}
	oldCfg, err1 := haproxy.ParseConfig(h.running)
	newCfg, err2 := haproxy.ParseConfig(out)
	if err := errors.Join(err1, err2); err != nil {
		h.log.Debug("cannot plan a runtime change", "error", err)
		return false
	}
	plan := haproxy.Plan(oldCfg, newCfg)
	if plan.Reload {
		h.log.Debug("change needs a reload", "why", plan.Reason)
		return false
	}
	rt := &haproxy.Runtime{Path: h.cfg.RuntimeSocket}
	busy, err := rt.ApplyChange(ctx, plan)
	for _, d := range busy {
		h.log.Info("removed server still busy: left in maintenance, taking no traffic, until the next reload",
			"backend", d.Backend, "server", d.Server)
	}
	if errors.Is(err, haproxy.ErrNeedsReload) {
		h.log.Info("change needs a reload on this HAProxy", "why", err)
		return false
	}
	if err != nil {
		h.m.runtimeUpdates.WithLabelValues("failed").Inc()
		h.log.Warn("runtime API change failed; reloading instead", "error", err)
		return false
	}
	h.m.runtimeUpdates.WithLabelValues("ok").Inc()
	h.log.Info("applied through the runtime API", "reason", reason, "updated", len(plan.Servers),
		"added", len(plan.Adds), "removed", len(plan.Deletes), "hash", hash)
	return true
}

func (h *haproxyState) socketExists() bool {
	_, err := os.Stat(h.cfg.RuntimeSocket)
	return err == nil
}

// reloadSoon reloads now, or arms the timer so that reloads stay at least
// min_reload_interval apart. Changes until then merge into that reload.
func (h *haproxyState) reloadSoon(ctx context.Context, reason string) error {
	wait := h.cfg.MinReloadInterval - time.Since(h.lastReload)
	if wait > 0 {
		h.arm(wait)
		h.log.Debug("reload deferred", "in", wait.Round(time.Millisecond))
		return nil
	}
	return h.reloadNow(ctx, reason)
}

// reloadNow reloads through the master socket and confirms it. A socket
// that is gone or refusing is retried with backoff until it is back.
func (h *haproxyState) reloadNow(ctx context.Context, reason string) error {
	if !h.pending {
		return nil
	}
	if h.cfg.MasterSocket == "" {
		return fmt.Errorf("reload: %w: set haproxy { master_socket = ... }", errNoMaster)
	}
	content, _ := os.ReadFile(h.cfg.Config)
	h.lastReload = time.Now()
	m := &haproxy.Master{Path: h.cfg.MasterSocket}
	if _, err := m.Reload(ctx); err != nil {
		h.m.reloads.WithLabelValues("failed").Inc()
		h.attempt++
		backoff := min(time.Duration(1<<min(h.attempt, 6))*100*time.Millisecond, 5*time.Second)
		h.arm(max(backoff, h.cfg.MinReloadInterval))
		return fmt.Errorf("reload (attempt %d, next in %s): %w", h.attempt, backoff, err)
	}
	h.attempt = 0
	h.pending = false
	h.running = content
	h.m.reloads.WithLabelValues("ok").Inc()
	h.log.Info("reloaded", "reason", reason, "hash", shortHash(content))
	return nil
}

func (h *haproxyState) arm(d time.Duration) {
	if h.timer == nil {
		h.timer = time.NewTimer(d)
		return
	}
	h.timer.Stop()
	h.timer.Reset(d)
}

// timerC is nil (never fires) while no reload is due.
func (h *haproxyState) timerC() <-chan time.Time {
	if h.timer == nil || !h.pending {
		return nil
	}
	return h.timer.C
}

// saveServerState writes `show servers state` to server_state_file so
// that servers keep their health state across the reload; servers that
// moved or left in next are dropped from it.
func (h *haproxyState) saveServerState(ctx context.Context, next []byte) error {
	if h.cfg.ServerStateFile == "" || h.cfg.RuntimeSocket == "" || !h.socketExists() {
		return nil
	}
	rt := &haproxy.Runtime{Path: h.cfg.RuntimeSocket}
	state, err := rt.ShowServersState(ctx)
	if err != nil {
		return err
	}
	if cfg, err := haproxy.ParseConfig(next); err == nil {
		state = haproxy.KeepServerState(state, cfg)
	}
	_, err = renderer.WriteFile(h.cfg.ServerStateFile, []byte(state), renderer.WriteOptions{Perms: 0o644, CreateDestDirs: true})
	return err
}

// ensureStarted starts HAProxy when haproxy { start = true } and it is not
// running yet; the first config is then loaded by the start, not a reload.
func (h *haproxyState) ensureStarted(ctx context.Context) error {
	if !h.cfg.Start || h.proc != nil {
		return nil
	}
	args := []string{"-W", "-S", h.cfg.MasterSocket, "-f", h.cfg.Config}
	if h.cfg.PIDFile != "" {
		args = append(args, "-p", h.cfg.PIDFile)
	}
	cmd := exec.Command(h.cfg.Binary, args...)
	out := &lineLogger{log: h.log.With("source", "haproxy")}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start haproxy: %w", err)
	}
	h.proc = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err := os.Stat(h.cfg.MasterSocket); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.pending = false
	h.running, _ = os.ReadFile(h.cfg.Config)
	h.lastReload = time.Now()
	h.log.Info("started haproxy", "pid", cmd.Process.Pid, "master_socket", h.cfg.MasterSocket)
	return nil
}

// shutdown stops the HAProxy that harender started, gracefully.
func (h *haproxyState) shutdown() {
	if h.timer != nil {
		h.timer.Stop()
	}
	if h.proc == nil {
		return
	}
	h.proc.Process.Signal(syscall.SIGUSR1)
	done := make(chan struct{})
	go func() { h.proc.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		h.proc.Process.Signal(syscall.SIGTERM)
		<-done
	}
}

// lineLogger logs what HAProxy prints, a line at a time, at debug level.
type lineLogger struct {
	log *slog.Logger
	buf []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.log.Debug("haproxy says", "line", string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
}
