package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/harender/harender/watch"
)

func runCommand(stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "the sidecar: keep HAProxy in step with Consul until SIGINT or SIGTERM",
		UsageText: "harender run --config FILE [--listen 127.0.0.1:9120]",
		Description: `Renders as soon as every dependency has answered once, then on every
   change waits out the quiescence window (wait { min max }), renders all
   templates, checks HAProxy's candidate once with haproxy -c, swaps in the
   changed files, and brings HAProxy along: through the runtime API when only
   server addresses, weights or states changed, else with one confirmed
   reload, never closer together than min_reload_interval.

   Consul being down never stops it: it retries forever and HAProxy keeps its
   last good config. A broken template or a rejected candidate keeps the last
   good output. SIGHUP re-reads the config and the templates; template files
   edited on disk are re-read by themselves.

Examples:
   harender run --config /etc/harender/harender.hcl --listen 127.0.0.1:9120
   curl -s 127.0.0.1:9120/healthz; curl -s 127.0.0.1:9120/metrics | grep harender_`,
		Flags: append(sourceFlags(),
			&cli.StringFlag{Name: "listen", Usage: "serve /metrics and /healthz on `ADDRESS`", EnvVars: []string{"HARENDER_LISTEN"}},
		),
		Action: func(c *cli.Context) error {
			load := func() (Config, error) {
				cfg, err := loadConfig(c)
				set(&cfg.Listen, c.String("listen"))
				return cfg, err
			}
			cfg, err := load()
			if err != nil {
				return withCode(exitConfig, err)
			}
			log, err := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
			if err != nil {
				return withCode(exitConfig, err)
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			return runSidecar(c.Context, cfg, load, hup, log)
		},
	}
}

// runSidecar runs until ctx ends. It returns an error only when it cannot
// start at all.
func runSidecar(ctx context.Context, cfg Config, load func() (Config, error), hup <-chan os.Signal, log *slog.Logger) error {
	sd := newNotifier(log) // systemd: READY=1, WATCHDOG=1, STOPPING=1; unset for children
	jobs, err := parseTemplates(cfg)
	if err != nil {
		return withCode(exitConfig, err)
	}
	client, err := watch.NewClient(cfg.Consul.Client)
	if err != nil {
		return withCode(exitConfig, err)
	}
	m := newMetrics()
	if cfg.Listen != "" {
		stop, err := m.serve(ctx, cfg.Listen, log)
		if err != nil {
			return withCode(exitConfig, err)
		}
		defer stop()
	}
	o := watchOptions(cfg, log, m.observeConsul)
	o.Guarded = m.guard
	o.Serf = newSerf(cfg, log, m.serfConnected)
	defer o.Serf.Close()
	w := watch.New(client, o)
	defer w.Stop()
	s := newSidecar(cfg, jobs, w, m, log)
	defer s.shutdown()
	defer sd.stopping() // before s.shutdown: systemd hears of it first
	files, err := watch.WatchFiles(ctx, sourcePaths(jobs), log)
	if err != nil {
		return withCode(exitConfig, err)
	}
	defer func() { files.Close() }()
	log.Info("started", "templates", len(jobs), "haproxy_config", cfg.HAProxy.Config, "reload", cfg.HAProxy.Reload)

	q := newQuiescence(cfg.Wait)
	defer func() { q.reset() }()
	s.render(ctx, "start")
	for {
		sd.readyOnce(s.m.hasApplied())
		select {
		case <-sd.watchdog():
			sd.ping()
		case <-ctx.Done():
			log.Info("stopping", "reason", context.Cause(ctx))
			return nil
		case <-w.Updates():
			if !s.m.hasApplied() {
				// Quiescence never delays the first render.
				s.markChange()
				s.render(ctx, "first data")
				continue
			}
			s.markChange()
			q.changed()
		case <-q.fire():
			q.reset()
			s.render(ctx, "consul change")
		case path := <-files.Changes():
			s.reparse(path)
			s.render(ctx, "template edited")
		case <-hup:
			next, err := load()
			if err == nil {
				err = s.reconfigure(next)
			}
			if err != nil {
				log.Error("SIGHUP: new config refused; the old one stays in force", "error", err)
				continue
			}
			q.reset()
			q = newQuiescence(s.cfg.Wait)
			files.Close()
			if files, err = watch.WatchFiles(ctx, sourcePaths(s.jobs), log); err != nil {
				return withCode(exitConfig, err)
			}
			log.Info("SIGHUP: config and templates re-read", "templates", len(s.jobs))
			s.render(ctx, "SIGHUP")
		case <-s.eng.Wake():
			s.converge(ctx)
		}
	}
}

func sourcePaths(jobs []*job) []string {
	var paths []string
	for _, j := range jobs {
		if j.cfg.Source != "" {
			paths = append(paths, j.cfg.Source)
		}
	}
	return paths
}

// quiescence is consul-template's wait: render once changes have stopped
// for min, or max after the first of them, whichever comes first.
type quiescence struct {
	min, max time.Duration
	minT     *time.Timer
	maxT     *time.Timer
	c        chan struct{}
}

func newQuiescence(w WaitConfig) *quiescence {
	return &quiescence{min: w.Min, max: w.Max, c: make(chan struct{}, 1)}
}

// changed notes a change and (re)arms the timers.
func (q *quiescence) changed() {
	if q.min <= 0 {
		select {
		case q.c <- struct{}{}:
		default:
		}
		return
	}
	if q.minT != nil {
		q.minT.Stop()
	}
	q.minT = time.AfterFunc(q.min, q.signal)
	if q.maxT == nil {
		q.maxT = time.AfterFunc(q.max, q.signal)
	}
}

func (q *quiescence) signal() {
	select {
	case q.c <- struct{}{}:
	default:
	}
}

func (q *quiescence) fire() <-chan struct{} { return q.c }

// reset disarms the timers after a render.
func (q *quiescence) reset() {
	for _, t := range []*time.Timer{q.minT, q.maxT} {
		if t != nil {
			t.Stop()
		}
	}
	q.minT, q.maxT = nil, nil
	select {
	case <-q.c:
	default:
	}
}
