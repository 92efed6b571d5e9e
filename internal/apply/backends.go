package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/harender/harender/haproxy"
)

// Backends added and removed at runtime, on a release with
// haproxy.FeatureRuntimeBackends (3.4).
//
// A backend that takes every setting from a named defaults section
// (haproxy.RuntimeBackend) is created with `add backend`, its servers and
// `publish backend` before the servers and maps converge, so that a map
// entry routing to it finds it; a backend the config no longer has is
// unpublished and deleted after the maps converge, so that no map entry
// routes to it any more. HAProxy's answer is the truth: `show backend` is
// compared with the config on every converge, so backends added or
// removed by hand, or left by a harender that died half-way, are
// repaired too. Anything else about a new backend reloads, as on 2.6 and
// 3.0.

// backendRuntime is what the engine needs of HAProxy to add and delete
// backends at runtime.
type backendRuntime interface {
	ShowBackends(ctx context.Context) ([]string, error)
	AddBackend(ctx context.Context, b haproxy.BackendAdd) error
	DelBackend(ctx context.Context, name string) error
}

func (h *realHAProxy) ShowBackends(ctx context.Context) ([]string, error) {
	return h.rt.ShowBackends(ctx)
}

func (h *realHAProxy) AddBackend(ctx context.Context, b haproxy.BackendAdd) error {
	return h.rt.AddBackend(ctx, b)
}

func (h *realHAProxy) DelBackend(ctx context.Context, name string) error {
	return h.rt.DelBackend(ctx, name)
}

// driftBackends is a backend found in HAProxy and not in the config, or
// the reverse, and repaired at runtime.
const driftBackends = "backends"

// planOptions says what the running HAProxy changes without a reload.
func (e *Engine) planOptions(ctx context.Context) haproxy.PlanOptions {
	if _, ok := e.hap.(backendRuntime); !ok || e.o.Reload != "auto" || !e.hasRuntime() {
		return haproxy.PlanOptions{}
	}
	v, err := e.release(ctx)
	return haproxy.PlanOptions{RuntimeBackends: err == nil && v.Has(haproxy.FeatureRuntimeBackends)}
}

// backendsDiff compares the backends HAProxy runs with g's config.
func (e *Engine) backendsDiff(ctx context.Context, g *generation) (missing []*haproxy.Section, extra []string, err error) {
	have, err := e.hap.(backendRuntime).ShowBackends(ctx)
	if err != nil {
		e.setHealth("haproxy runtime API is not answering on " + e.runtimePath())
		e.retry()
		return nil, nil, fmt.Errorf("ask haproxy for its backends: %w", err)
	}
	want := map[string]bool{}
	for _, s := range g.parsed.Sections {
		if s.Kind == "backend" || s.Kind == "listen" {
			want[s.Name] = true
			if !slices.Contains(have, s.Name) {
				missing = append(missing, s)
			}
		}
	}
	for _, name := range have {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	return missing, extra, nil
}

// addBackends creates the backends of g that HAProxy lacks, and returns
// those HAProxy runs that g lacks, for delBackends once the maps no longer
// route to them (one show backend for both). A backend it cannot create
// at runtime is a needsReload.
func (e *Engine) addBackends(ctx context.Context, g *generation, drift bool) (extra []string, err error) {
	if g.parsed == nil || !e.planOptions(ctx).RuntimeBackends {
		return nil, nil
	}
	missing, extra, err := e.backendsDiff(ctx, g)
	if err != nil || len(missing) == 0 {
		return extra, err
	}
	var names []string
	for _, s := range missing {
		b, why := haproxy.RuntimeBackend(g.parsed, s)
		if why != "" {
			return nil, needsReload(fmt.Sprintf("backend %s is not in haproxy and cannot be added at runtime: %s", s.Name, why))
		}
		if err := e.hap.(backendRuntime).AddBackend(ctx, b); err != nil {
			e.m.RuntimeUpdates.WithLabelValues("failed").Inc()
			e.log.Warn("runtime API backend add failed; reloading instead", "backend", s.Name, "error", err)
			return nil, needsReload("runtime API backend add failed")
		}
		names = append(names, s.Name)
	}
	e.reportBackends("added", names, g, drift)
	return extra, nil
}

// delBackends deletes extra, the backends addBackends found in HAProxy
// and not in g's config. A backend still in use stays unpublished, taking
// no new request, and is tried again after busyRetry.
func (e *Engine) delBackends(ctx context.Context, g *generation, extra []string, drift bool) error {
	var names []string
	for _, name := range extra {
		key := "backend " + name
		if e.triedEarly[key] {
			e.after(busyRetry) // found busy moments ago, in this same apply
			continue
		}
		err := e.hap.(backendRuntime).DelBackend(ctx, name)
		switch {
		case err == nil:
			names = append(names, name)
			delete(e.busy, key)
		case errors.Is(err, haproxy.ErrServerBusy) || errors.Is(err, haproxy.ErrBackendBusy):
			if !e.busy[key] {
				e.log.Info("removed backend still in use: unpublished, taking no new request, deleted later", "backend", name)
			}
			e.busy[key] = true
			if e.triedEarly != nil {
				e.triedEarly[key] = true
			}
			e.after(busyRetry)
		default:
			e.m.RuntimeUpdates.WithLabelValues("failed").Inc()
			e.log.Warn("runtime API backend delete failed; reloading instead", "backend", name, "error", err)
			return needsReload("runtime API backend delete failed")
		}
	}
	e.reportBackends("deleted", names, g, drift)
	return nil
}

// reportBackends counts and logs backends added or deleted at runtime.
func (e *Engine) reportBackends(what string, names []string, g *generation, drift bool) {
	if len(names) == 0 {
		return
	}
	e.m.RuntimeUpdates.WithLabelValues("ok").Inc()
	if drift {
		e.m.Drift.WithLabelValues(driftBackends).Inc()
		e.log.Warn("drift repaired: haproxy's backends differed from the rendered config; "+what+" through the runtime API",
			"backends", strings.Join(names, ", "))
		return
	}
	e.log.Info("applied through the runtime API", "backends "+what, strings.Join(names, ", "), "hash", g.short())
}
