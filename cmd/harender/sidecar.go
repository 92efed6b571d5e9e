package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/harender/harender/renderer"
	"github.com/harender/harender/watch"
)

// sidecar is the state of harender run between events. It is used by one
// goroutine, the event loop in runSidecar.
type sidecar struct {
	cfg  Config
	jobs []*job
	w    *watch.Watcher
	m    *metrics
	log  *slog.Logger
	hap  *haproxyState

	applied  bool      // the first apply has succeeded
	changeAt time.Time // first Consul change not yet applied
	lastErr  string    // last render error logged, to log each once
	editErr  error     // a template edited on disk that does not parse
}

func newSidecar(cfg Config, jobs []*job, w *watch.Watcher, m *metrics, log *slog.Logger) *sidecar {
	return &sidecar{cfg: cfg, jobs: jobs, w: w, m: m, log: log, hap: newHAProxyState(cfg.HAProxy, m, log)}
}

// markChange notes when the oldest unapplied change arrived.
func (s *sidecar) markChange() {
	if s.changeAt.IsZero() {
		s.changeAt = time.Now()
	}
}

// render renders every template and applies what changed. Errors are
// logged (once per distinct error) and counted; the last good output and
// HAProxy's running config stay as they are.
func (s *sidecar) render(ctx context.Context, reason string) {
	p, err := renderAll(s.jobs, s.w.Snapshot())
	s.w.Watch(ctx, p.used)
	s.m.dependencies.Set(float64(len(p.used)))
	if err != nil {
		s.fail("render failed; keeping the last good output", err)
		s.m.renders.WithLabelValues("error").Inc()
		s.m.templateErrors.Set(1)
		return
	}
	if s.editErr == nil {
		s.m.templateErrors.Set(0)
	}
	if len(p.missing) > 0 {
		s.log.Debug("waiting for data", "missing", len(p.missing), "reason", reason)
		return
	}
	changed, err := s.apply(ctx, p.outputs, reason)
	if err != nil {
		s.fail("apply failed; keeping the last good config", err)
		return
	}
	s.lastErr = ""
	if changed {
		s.m.renders.WithLabelValues("changed").Inc()
	} else {
		s.m.renders.WithLabelValues("unchanged").Inc()
	}
	if !s.hap.pending {
		s.done()
	}
}

// done records a complete apply: HAProxy runs what was rendered.
func (s *sidecar) done() {
	s.applied = true
	s.m.applyResult(nil)
	if !s.changeAt.IsZero() {
		s.m.applyLatency.Observe(time.Since(s.changeAt).Seconds())
		s.changeAt = time.Time{}
	}
}

func (s *sidecar) fail(msg string, err error) {
	s.m.applyResult(err)
	if e := err.Error(); e != s.lastErr {
		s.lastErr = e
		s.log.Error(msg, "error", err)
	}
}

// apply writes the outputs that changed, HAProxy's candidate first through
// haproxy -c, and brings HAProxy along.
func (s *sidecar) apply(ctx context.Context, outputs [][]byte, reason string) (bool, error) {
	var changed bool
	for i, j := range s.jobs {
		out := outputs[i]
		if j.isHAProxy(s.cfg.HAProxy) {
			c, err := s.hap.apply(ctx, j, out, reason)
			if err != nil {
				return changed, err
			}
			changed = changed || c
			continue
		}
		wrote, err := renderer.WriteFile(j.cfg.Destination, out, writeOptions(j.cfg))
		if err != nil {
			return changed, err
		}
		if !wrote {
			continue
		}
		changed = true
		s.log.Info("rendered", "destination", j.cfg.Destination, "reason", reason, "hash", shortHash(out))
		if len(j.cfg.Command) > 0 {
			s.runCommand(ctx, j)
		}
	}
	return changed, nil
}

// reparse re-reads the templates after a file changed on disk. A broken
// edit keeps the template as it was.
func (s *sidecar) reparse(path string) {
	jobs, err := parseTemplates(s.cfg)
	s.editErr = err
	if err != nil {
		s.fail(fmt.Sprintf("template %s edited; the edit does not parse, keeping the last good template", path), err)
		s.m.templateErrors.Set(1)
		return
	}
	s.log.Info("template re-read", "path", path)
	s.jobs = jobs
}

// reconfigure switches to a new config after SIGHUP, if it is whole:
// templates, wait and haproxy settings. The Consul connection, the listen
// address and logging stay as they started.
func (s *sidecar) reconfigure(cfg Config) error {
	jobs, err := parseTemplates(cfg)
	if err != nil {
		return err
	}
	if cfg.Consul != s.cfg.Consul || cfg.Listen != s.cfg.Listen || cfg.LogLevel != s.cfg.LogLevel || cfg.LogFormat != s.cfg.LogFormat {
		s.log.Warn("SIGHUP: changes to consul, listen and log settings take effect at the next start")
		cfg.Consul, cfg.Listen, cfg.LogLevel, cfg.LogFormat = s.cfg.Consul, s.cfg.Listen, s.cfg.LogLevel, s.cfg.LogFormat
	}
	s.cfg, s.jobs, s.editErr = cfg, jobs, nil
	s.hap.cfg = cfg.HAProxy
	return nil
}

// retryC fires when a deferred or failed reload is due.
func (s *sidecar) retryC() <-chan time.Time { return s.hap.timerC() }

// retry runs a deferred reload.
func (s *sidecar) retry(ctx context.Context) {
	if err := s.hap.reloadNow(ctx, "deferred"); err != nil {
		s.fail("reload failed", err)
		return
	}
	if !s.hap.pending {
		s.done()
	}
}

func (s *sidecar) shutdown() {
	s.hap.shutdown()
}
