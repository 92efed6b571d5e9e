package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/harender/harender/internal/apply"
	"github.com/harender/harender/renderer"
	"github.com/harender/harender/watch"
)

func renderCommand(stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "render",
		Usage:     "render every template once, check, write, and exit",
		UsageText: "harender render [--config FILE | --template SRC:DEST ...] [--dry-run] [--reload]",
		Description: `Waits until every Consul dependency of every template has answered once
   (at most --timeout), renders, checks HAProxy's candidate with haproxy -c,
   and swaps each changed file in atomically. Unchanged files are not touched.

   --dry-run writes nothing: it prints a unified diff of each destination and
   exits as diff(1) does: 0 no difference, 1 differences, 2 error.
   --reload then makes HAProxy run it: through the runtime API when only
   servers changed, else with one reload on the master socket, confirmed.
   It asks HAProxy what it runs (show proc, show servers state) rather than
   assuming: an HAProxy that already runs the rendered config is left alone.

Examples:
   harender render --config /etc/harender/harender.hcl --reload
   harender render --consul-addr 127.0.0.1:8500 -t gateway.tmpl:haproxy.cfg \
       --haproxy-config haproxy.cfg
   harender render --config harender.hcl --dry-run || echo "config would change"`,
		Flags: append(sourceFlags(),
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "write nothing; print a diff per destination; exit 1 if any differs", EnvVars: []string{"HARENDER_DRY_RUN"}},
			&cli.BoolFlag{Name: "reload", Usage: "then make HAProxy run it: runtime API or one confirmed reload", EnvVars: []string{"HARENDER_RELOAD"}},
			durationFlag("timeout", 60*time.Second, "give up (exit 3) when Consul has not answered every query within `DURATION`"),
		),
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return withCode(exitConfig, err)
			}
			log, err := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
			if err != nil {
				return withCode(exitConfig, err)
			}
			return renderOnce(c.Context, cfg, renderFlags{
				dryRun: c.Bool("dry-run"), reload: c.Bool("reload"), timeout: c.Duration("timeout"),
				out: c.App.Writer,
			}, log)
		},
	}
}

type renderFlags struct {
	dryRun, reload bool
	timeout        time.Duration
	out            io.Writer
}

// renderOnce is the render command: wait for data, render, check, write,
// and reload if asked.
func renderOnce(ctx context.Context, cfg Config, f renderFlags, log *slog.Logger) error {
	jobs, err := parseTemplates(cfg)
	if err != nil {
		return withCode(exitConfig, err)
	}
	if f.dryRun {
		for _, j := range jobs {
			j.tmpl = j.tmpl.WithNoWrite() // --dry-run writes nothing, writeToFile included
		}
	}
	client, err := watch.NewClient(cfg.Consul.Client)
	if err != nil {
		return withCode(exitConfig, err)
	}
	o := watchOptions(cfg, log, nil)
	o.Once, o.MaxInFlight = true, 64
	o.Serf = newSerf(cfg, log, nil)
	defer o.Serf.Close()
	w := watch.New(client, o)
	defer w.Stop()
	wctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	p, err := collect(wctx, w, jobs, log)
	if err != nil {
		return err
	}
	w.Stop()
	if f.dryRun {
		differs, err := diffAll(f.out, jobs, p.outputs)
		if err != nil {
			return err
		}
		if differs {
			return &exitError{code: exitDiff}
		}
		return nil
	}
	// render never starts HAProxy: the HAProxy it reloads is someone else's.
	cfg.HAProxy.Start = false
	if f.reload && cfg.HAProxy.Reload == "never" {
		cfg.HAProxy.Reload = "auto"
	}
	eng := newEngine(cfg, apply.NewMetrics(nil), log)
	defer eng.Close(ctx) // waits for the templates' commands
	dests, err := eng.Commit(ctx, outputs(jobs, p.outputs))
	if err != nil {
		return withCode(exitConfig, err)
	}
	if len(dests) == 0 {
		log.Info("nothing changed", "templates", len(jobs))
	}
	if !f.reload {
		return nil
	}
	if cfg.HAProxy.Config == "" || cfg.HAProxy.MasterSocket == "" {
		return withCode(exitConfig, errors.New("--reload: set haproxy { config = ..., master_socket = ... } (or --haproxy-config and --master-socket)"))
	}
	if err := eng.Converge(ctx, "render --reload"); err != nil {
		return withCode(exitUnreachable, err)
	}
	log.Info("haproxy runs the rendered config", "config", cfg.HAProxy.Config)
	return nil
}

// watchOptions are the watcher's settings from the config.
func watchOptions(cfg Config, log *slog.Logger, observe func(string, error)) watch.Options {
	return watch.Options{
		MaxStale:   cfg.Consul.MaxStale,
		WaitTime:   cfg.Consul.BlockWait,
		Backoff:    cfg.Consul.Backoff,
		MaxBackoff: cfg.Consul.MaxBackoff,
		AllowEmpty: cfg.Consul.AllowEmpty,
		Logger:     log,
		Observe:    observe,
		Shared:     cfg.Consul.SharedQueries, // watch/shared_hub.go; not under Once

		MaxRemovalPercent: cfg.Consul.MaxRemovalPercent,
		RemovalHold:       cfg.Consul.RemovalHold,
	}
}

// newSerf is the connection to the Serf agent of the serf block (or
// Serf's default RPC address); it connects at the first serfMembers query.
func newSerf(cfg Config, log *slog.Logger, up func(bool)) *watch.Serf {
	return watch.NewSerf(watch.SerfConfig{Addr: cfg.Serf.Addr, AuthKeyFile: cfg.Serf.AuthKeyFile, Logger: log, Up: up})
}

// diffAll prints a diff per destination and reports whether any differs.
func diffAll(w io.Writer, jobs []*job, outputs [][]byte) (bool, error) {
	differs := false
	for i, j := range jobs {
		d, err := renderer.Diff(j.cfg.Destination, outputs[i])
		if err != nil {
			return false, withCode(exitConfig, err)
		}
		if d != "" {
			differs = true
			fmt.Fprint(w, d)
		}
	}
	return differs, nil
}
