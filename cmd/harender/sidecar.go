package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/harender/harender/internal/apply"
	"github.com/harender/harender/renderer"
	"github.com/harender/harender/watch"
)

// sidecar is the state of harender run between events. It is used by one
// goroutine, the event loop in runSidecar; health is read by /healthz.
type sidecar struct {
	cfg  Config
	jobs []*job
	w    *watch.Watcher
	m    *metrics
	log  *slog.Logger
	eng  *apply.Engine

	changeAt time.Time // first Consul change not yet applied
	lastErr  string    // last error logged, to log each once
	editErr  error     // a template edited on disk that does not parse
}

func newSidecar(cfg Config, jobs []*job, w *watch.Watcher, m *metrics, log *slog.Logger) *sidecar {
	s := &sidecar{cfg: cfg, jobs: jobs, w: w, m: m, log: log, eng: newSidecarEngine(cfg, m.engine, log)}
	m.setHealth(s.eng.Health)
	return s
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
		s.m.renderFailed(templateReason(err))
		s.fail("render failed; keeping the last good output", err)
		s.m.renders.WithLabelValues("error").Inc()
		return
	}
	if len(p.missing) > 0 {
		s.m.waiting(fmt.Sprintf("waiting for Consul: %d of %d queries have not answered", len(p.missing), len(p.used)))
		s.log.Debug("waiting for data", "missing", len(p.missing), "reason", reason)
		return
	}
	if s.editErr == nil {
		s.m.renderFailed("")
	}
	s.m.waiting("")
	changed, err := s.eng.Apply(ctx, outputs(s.jobs, p.outputs), reason)
	if len(changed) > 0 {
		s.m.renders.WithLabelValues("changed").Inc()
	} else if err == nil {
		s.m.renders.WithLabelValues("unchanged").Inc()
	}
	s.after(err)
}

// converge runs the engine's due work: a deferred reload, a retry, a
// busy server, the reconcile tick.
func (s *sidecar) converge(ctx context.Context) {
	if s.eng.CommitFailed() {
		s.render(ctx, "retry after a failed write")
		return
	}
	s.after(s.eng.Converge(ctx, "tick"))
}

// after records the outcome of an apply or converge.
func (s *sidecar) after(err error) {
	if err != nil {
		s.fail("apply failed; haproxy keeps its last good config", err)
		return
	}
	if ok, _ := s.eng.Health(); !ok || s.eng.Pending() {
		return
	}
	s.lastErr = ""
	s.m.applied()
	if !s.changeAt.IsZero() {
		s.m.applyLatency.Observe(time.Since(s.changeAt).Seconds())
		s.changeAt = time.Time{}
	}
}

func (s *sidecar) fail(msg string, err error) {
	if e := err.Error(); e != s.lastErr {
		s.lastErr = e
		s.log.Error(msg, "error", err)
	}
}

// templateReason is a one-line reason for /healthz that names the
// template but quotes none of its output.
func templateReason(err error) string {
	var te *renderer.TemplateError
	if errors.As(err, &te) {
		return fmt.Sprintf("template error in %s at line %d", te.File, te.Line)
	}
	return "template error"
}

// reparse re-reads the templates after a file changed on disk. A broken
// edit keeps the template as it was.
func (s *sidecar) reparse(path string) {
	jobs, err := parseTemplates(s.cfg)
	s.editErr = err
	if err != nil {
		s.m.renderFailed(templateReason(err))
		s.fail(fmt.Sprintf("template %s edited; the edit does not parse, keeping the last good template", path), err)
		return
	}
	s.log.Info("template re-read", "path", path)
	s.jobs = jobs
}

// reconfigure switches to a new config after SIGHUP, if it is whole:
// templates and wait settings. The Consul connection, HAProxy settings,
// the listen address and logging stay as they started.
func (s *sidecar) reconfigure(cfg Config) error {
	jobs, err := parseTemplates(cfg)
	if err != nil {
		return err
	}
	if cfg.Consul != s.cfg.Consul || cfg.Serf != s.cfg.Serf || cfg.Listen != s.cfg.Listen || cfg.LogLevel != s.cfg.LogLevel ||
		cfg.LogFormat != s.cfg.LogFormat || cfg.HAProxy != s.cfg.HAProxy {
		s.log.Warn("SIGHUP: changes to consul, serf, haproxy, listen and log settings take effect at the next start")
		cfg.Consul, cfg.Serf, cfg.Listen, cfg.LogLevel, cfg.LogFormat, cfg.HAProxy = s.cfg.Consul, s.cfg.Serf, s.cfg.Listen, s.cfg.LogLevel, s.cfg.LogFormat, s.cfg.HAProxy
	}
	s.cfg, s.jobs, s.editErr = cfg, jobs, nil
	return nil
}

func (s *sidecar) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.eng.Close(ctx)
}
