package apply

import (
	"context"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/renderer"
)

// serversFirst takes HAProxy to a candidate that differs from what it runs
// only in servers, through the runtime API, before haproxy -c has checked
// the candidate: the check (tens of ms of CPU) then runs off the path from
// a Consul change to HAProxy serving it. Apply commits the candidate
// afterwards; if haproxy -c refuses it, Apply converges back to the last
// committed generation, which undoes these steps. The candidate is staged
// beside the config first, so that a disk that cannot take it leaves
// HAProxy untouched. It reports whether it sent any step, with the staged
// candidate.
func (e *Engine) serversFirst(ctx context.Context, outs []Output, g *generation) (*renderer.Staged, bool) {
	d := e.desired
	if d == nil || e.changed || e.force != "" || e.refused != "" || e.o.Reload != "auto" ||
		!e.hasRuntime() || e.o.MasterSocket == "" || e.loaded == nil {
		return nil, false
	}
	if g == nil || g.parsed == nil || g.hash == d.hash || !sameFiles(g, d) {
		return nil, false
	}
	if ch := haproxy.Plan(d.parsed, g.parsed); d.parsed == nil || ch.Reload {
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
	if r, _ := e.movesNeedReload(ctx, steps); why != "" || len(steps) == 0 || r != "" {
		return nil, false
	}
	for _, s := range steps {
		if e.busy[s.Name()] {
			return nil, false // a retry of a busy delete is converge's work
		}
	}
	// Errors are converge's to handle: it compares again once the
	// candidate is committed (or refused) and repairs what is left. A
	// server found busy here is not asked again in the same apply.
	var st *renderer.Staged
	for _, o := range outs {
		if o.Dest == e.o.Config {
			if st, err = renderer.Stage(o.Dest, o.Data, o.Write); err != nil {
				return nil, false // Commit meets the same error and reports it
			}
		}
	}
	e.triedEarly = map[string]bool{}
	_ = e.runSteps(ctx, g, steps, false, true)
	return st, true
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
