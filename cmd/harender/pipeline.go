package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/harender/harender/renderer"
	"github.com/harender/harender/templates"
	"github.com/harender/harender/watch"
)

// job is one template block, parsed.
type job struct {
	cfg  TemplateConfig
	tmpl *renderer.Template
}

// parseTemplates parses every template, collecting all errors.
func parseTemplates(cfg Config) ([]*job, error) {
	var jobs []*job
	var errs []error
	// An HAProxy that does not answer -v leaves the version unknown
	// (haproxyVersion ""); haproxy -c of the candidate reports it.
	hv, _ := haproxyInfo(context.Background(), cfg.HAProxy.Binary)
	for _, tc := range cfg.Templates {
		text, err := templateText(tc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		params := map[string]string{
			"runtime_socket": cfg.HAProxy.RuntimeSocket,
			"state_file":     cfg.HAProxy.ServerStateFile,
		}
		for k, v := range tc.Params {
			params[k] = v
		}
		t, err := renderer.Parse(tc.Name(), text, renderer.Options{
			LeftDelim: tc.LeftDelim, RightDelim: tc.RightDelim,
			ErrMissingKey: tc.ErrMissingKey, Params: params,
			FunctionDenylist: tc.FunctionDenylist, SandboxPath: tc.SandboxPath,
			HAProxy: hv,
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		jobs = append(jobs, &job{cfg: tc, tmpl: t})
	}
	return jobs, joinErrors(errs)
}

func templateText(tc TemplateConfig) (string, error) {
	switch {
	case tc.Builtin != "":
		return templates.Get(tc.Builtin)
	case tc.Contents != "":
		return tc.Contents, nil
	}
	b, err := os.ReadFile(tc.Source)
	if err != nil {
		return "", fmt.Errorf("read template: %w", err)
	}
	return string(b), nil
}

// pass is one rendering of every template against one snapshot.
type pass struct {
	outputs [][]byte
	used    []watch.Dependency
	missing []watch.Dependency
}

// renderAll executes every job against snap. A template error is returned
// only when it cannot be blamed on data that has not arrived yet.
func renderAll(jobs []*job, snap renderer.Recaller) (*pass, error) {
	p := &pass{outputs: make([][]byte, len(jobs))}
	seen := map[string]bool{}
	var errs []error
	for i, j := range jobs {
		res, err := j.tmpl.Execute(snap)
		if res != nil {
			for _, d := range res.Used {
				if !seen[d.String()] {
					seen[d.String()] = true
					p.used = append(p.used, d)
				}
			}
			p.missing = append(p.missing, res.Missing...)
			p.outputs[i] = res.Output
		}
		if err != nil && (res == nil || len(res.Missing) == 0) {
			errs = append(errs, err)
		}
	}
	return p, joinErrors(errs)
}

// collect renders until every dependency of every template has answered
// once, starting watches for the dependencies each pass discovers.
func collect(ctx context.Context, w *watch.Watcher, jobs []*job, log *slog.Logger) (*pass, error) {
	for {
		p, err := renderAll(jobs, w.Snapshot())
		if err != nil {
			return nil, withCode(exitConfig, err)
		}
		w.Watch(ctx, p.used)
		if len(p.missing) == 0 {
			return p, nil
		}
		log.Debug("waiting for data", "missing", len(p.missing), "used", len(p.used))
		select {
		case <-w.Updates():
		case <-ctx.Done():
			return nil, withCode(exitUnreachable, fmt.Errorf("gave up waiting for Consul: %d of %d dependencies have no data: %s",
				len(p.missing), len(p.used), depNames(p.missing, 5)))
		}
	}
}

func depNames(deps []watch.Dependency, max int) string {
	var names []string
	for i, d := range deps {
		if i == max {
			names = append(names, fmt.Sprintf("and %d more", len(deps)-max))
			break
		}
		names = append(names, d.String())
	}
	return strings.Join(names, ", ")
}
