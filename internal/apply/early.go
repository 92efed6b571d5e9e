package apply

import (
	"context"
	"slices"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/renderer"
)

// serversFirst takes HAProxy to a candidate that differs from what it runs
// only in what the runtime API changes (servers, runtime maps, and on 3.4
// backends added or removed), before haproxy -c has checked the
// candidate: the check (tens of ms of CPU, over 100 ms on 3.4) then runs
// off the path from a Consul change to HAProxy serving it. Apply commits
// the candidate afterwards; if haproxy -c refuses it, Apply converges back
// to the last committed generation, which undoes these changes. The
// candidate is written beside the config first (not synced: a commit
// writes it again), so that a disk that cannot take it leaves HAProxy
// untouched. It reports whether it sent anything,
// with the staged candidate.
func (e *Engine) serversFirst(ctx context.Context, outs []Output, g *generation) (*renderer.Staged, bool) {
	d := e.desired
	if d == nil || e.changed || e.force != "" || e.refused != "" || e.o.Reload != "auto" ||
		!e.hasRuntime() || e.o.MasterSocket == "" || e.loaded == nil {
		return nil, false
	}
	if g == nil || g.parsed == nil || g.hash == d.hash || !e.runtimeFiles(d, g) {
		return nil, false
	}
	ch := haproxy.PlanWith(d.parsed, g.parsed, e.planOptions(ctx))
	if d.parsed == nil || ch.Reload {
		return nil, false
	}
	procs, err := e.hap.ShowProc(ctx)
	if err != nil || e.reloadReason(ctx, g, procs, true) != "" {
		return nil, false
	}
	obs, err := e.hap.ServersState(ctx)
	if err != nil {
		return nil, false
	}
	steps, why := haproxy.Reconcile(g.parsed, obs)
	if r, _ := e.movesNeedReload(ctx, steps); why != "" || r != "" {
		return nil, false
	}
	adds, dels := len(ch.AddBackends) > 0, len(ch.DelBackends) > 0
	maps := !sameFiles(g, d)
	if len(steps) == 0 && !adds && !dels && !maps {
		return nil, false
	}
	for _, s := range steps {
		if e.retrying(s) {
			return nil, false // a retry of a busy delete is converge's work
		}
	}
	// Errors are converge's to handle: it compares again once the
	// candidate is committed (or refused) and repairs what is left. A
	// server found busy here is not asked again in the same apply.
	var st *renderer.Staged
	for _, o := range outs {
		if o.Dest == e.o.Config {
			if st, err = renderer.Draft(o.Dest, o.Data, o.Write); err != nil {
				return nil, false // Commit meets the same error and reports it
			}
		}
	}
	e.triedEarly = map[string]bool{}
	e.early = true // converging back from it, if it is dropped, is no drift
	var extra []string
	if adds || dels {
		// New backends first, with their servers; then the other steps.
		var err error
		if extra, err = e.addBackends(ctx, g, false); err == nil && adds {
			if obs, err = e.hap.ServersState(ctx); err == nil {
				steps, _ = haproxy.Reconcile(g.parsed, obs)
			}
		}
	}
	_ = e.runSteps(ctx, g, steps, false, true)
	if maps {
		_ = e.convergeMaps(ctx, g, false) // maps.go
	}
	if dels {
		_ = e.delBackends(ctx, g, extra, false) // after no map routes to them
	}
	return st, true
}

// runtimeFiles reports whether the companion files of a and b are the same
// files, differing at most in runtime maps (maps.go).
func (e *Engine) runtimeFiles(a, b *generation) bool {
	if len(a.files) != len(b.files) {
		return false
	}
	rt := e.runtimeMaps(b.config, b.files)
	for p, data := range a.files {
		other, ok := b.files[p]
		if !ok {
			return false
		}
		if string(other) != string(data) && !slices.Contains(rt, p) {
			return false
		}
	}
	return true
}

// sameFiles reports whether a and b name the same companion files with
// the same contents.
func sameFiles(a, b *generation) bool {
	if len(a.files) != len(b.files) {
		return false
	}
	for p, data := range a.files {
		if other, ok := b.files[p]; !ok || string(other) != string(data) {
			return false
		}
	}
	return true
}
