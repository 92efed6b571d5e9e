package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/harender/harender/haproxy"
)

// Apply commits outs and converges HAProxy to them. A change of servers
// alone reaches HAProxy first, and is undone if haproxy -c then refuses
// the candidate (early.go).
func (e *Engine) Apply(ctx context.Context, outs []Output, why string) ([]string, error) {
	g := newGeneration(e.o.Config, outs) // parsed once for the early path
	var dropped *pendingCheck
	if e.pending != nil {
		if g != nil && g.hash == e.pending.hash {
			return nil, nil // the same candidate, already being checked
		}
		dropped = e.cancelCheck() // a newer candidate supersedes it
	}
	defer waitCheck(dropped) // once the newer candidate has reached HAProxy
	staged, early := e.serversFirst(ctx, outs, g)
	defer func() { e.triedEarly = nil }()
	if early && e.o.CheckAsync && e.startCheck(ctx, outs, g, staged) {
		// Committed when its check passes (check_async.go); it is a change.
		return []string{e.o.Config}, nil
	}
	e.uncheckedSince = time.Time{} // this candidate is checked now, with the rest
	if staged != nil {
		staged.Discard() // Commit stages all outputs together
	}
	changed, err := e.Commit(ctx, outs)
	if err != nil {
		if early {
			e.log.Error("the servers already sent to haproxy's runtime API are taken back: the candidate could not be committed",
				"error", err)
			if cerr := e.Converge(ctx, "undo a candidate not committed"); cerr != nil {
				e.log.Error("could not take the servers back yet; retrying", "error", cerr)
			}
			if e.writeFailed {
				e.after(commitRetry) // Converge replaced Commit's wake-up
			}
		}
		return changed, err
	}
	return changed, e.Converge(ctx, why)
}

// Converge compares what HAProxy reports with the last committed
// generation and brings HAProxy to it: a start where it is not running,
// one confirmed reload where its config differs in more than servers, the
// runtime API for servers. It returns nil when HAProxy runs that
// generation or the rest is scheduled (a deferred reload, a busy server);
// an error says what failed, and a retry is scheduled.
func (e *Engine) Converge(ctx context.Context, why string) error {
	checkErr, running := e.settleCheck(ctx)
	if running {
		return nil // HAProxy runs the candidate's servers; its check's end wakes us
	}
	err := e.converge(ctx, why)
	if checkErr != nil {
		return checkErr
	}
	return err
}

func (e *Engine) converge(ctx context.Context, why string) error {
	if e.timer != nil {
		e.timer.Stop()
		e.timer, e.wakeAt = nil, time.Time{}
	}
	defer func() {
		if e.o.ReconcileInterval > 0 {
			e.after(e.o.ReconcileInterval)
		}
	}()
	if e.o.Config == "" || e.desired == nil {
		return nil
	}
	// Servers of an uncommitted candidate (dropped for a newer one, or
	// refused) are taken back as a change, not repaired as drift.
	drift := !e.changed && !e.early
	e.checkFiles(drift)
	if e.o.Reload == "never" {
		// Files only; a supervised HAProxy is still kept running.
		if e.o.Start {
			if _, _, err := e.ensureRunning(ctx, drift); err != nil {
				return err
			}
		}
		e.changed = false
		e.setHealth("")
		return nil
	}
	procs, known, err := e.observe(ctx, drift)
	if err != nil {
		return err
	}
	for range 2 {
		reason := e.reloadReason(ctx, e.desired, procs, known)
		partial := false
		if reason != "" {
			done, err := e.reloadIfDue(ctx, reason, drift)
			if err != nil {
				return err
			}
			partial = !done
			drift = false // a reload leaves nothing of the old state to call drift
		}
		var err error
		var extra []string // backends for delBackends, after the maps
		if !partial {
			extra, err = e.addBackends(ctx, e.desired, drift) // backends.go
		}
		if err == nil {
			err = e.convergeServers(ctx, e.desired, drift, partial)
		}
		if err == nil && !partial {
			err = e.convergeMaps(ctx, e.desired, drift) // maps.go
		}
		if err == nil && !partial {
			err = e.delBackends(ctx, e.desired, extra, drift)
		}
		var nr needsReload
		if errors.As(err, &nr) && e.force == "" {
			e.force = string(nr)
			continue
		}
		if err != nil {
			return err
		}
		if !partial {
			e.changed, e.early = false, false
			e.applied = e.desired
			e.failures, e.notBefore = 0, time.Time{} // failures healed: no backoff left
			e.setHealth("")
		}
		return nil
	}
	return nil
}

// needsReload is a server change the runtime API cannot make here.
type needsReload string

func (n needsReload) Error() string { return "needs a reload: " + string(n) }

// observe asks the master what runs, starting HAProxy first when the
// engine supervises it. known is false without a master socket.
func (e *Engine) observe(ctx context.Context, drift bool) (procs haproxy.Procs, known bool, err error) {
	if e.o.Start {
		p, have, err := e.ensureRunning(ctx, drift)
		if err != nil {
			return procs, false, err
		}
		if have {
			e.m.HAProxyUp.Set(1)
			return p, true, nil
		}
	}
	if e.o.MasterSocket == "" {
		if e.loaded == nil {
			// Nothing to ask: take HAProxy to run what was on disk first.
			e.loaded = &loadedRecord{generation: e.desired.hash, config: e.desired.config, parsed: e.desired.parsed}
		}
		return procs, false, nil
	}
	procs, err = e.hap.ShowProc(ctx)
	if err != nil {
		e.m.HAProxyUp.Set(0)
		e.setHealth("haproxy master is not answering on " + e.o.MasterSocket)
		e.retry()
		return procs, true, fmt.Errorf("ask haproxy what it runs: %w", err)
	}
	e.m.HAProxyUp.Set(1)
	return procs, true, nil
}

// reloadReason says why HAProxy must reload to run generation d, or ""
// when the runtime API can do the rest.
func (e *Engine) reloadReason(ctx context.Context, d *generation, procs haproxy.Procs, known bool) string {
	switch {
	case e.loaded == nil:
		return "no record of the config HAProxy loaded"
	case known && !e.loaded.matches(procs):
		return fmt.Sprintf("HAProxy was restarted or reloaded outside harender (master pid %d, reload %d; recorded pid %d, reload %d)",
			procs.Master.PID, procs.Master.Reloads, e.loaded.masterPID, e.loaded.reloads)
	case e.force != "":
		return e.force
	case e.loaded.generation == d.hash:
		return ""
	case e.o.Reload == "always":
		return "reload = always"
	case hashOf(e.loaded.config, d.files) != e.loaded.generation && !e.onlyMapsDiffer(d):
		return "a companion file changed" // other than a runtime map (maps.go)
	case d.parsed == nil || e.loaded.parsed == nil:
		return "config not understood by harender's parser"
	}
	o := e.planOptions(ctx) // backends.go
	if ch := haproxy.PlanWith(e.loaded.parsed, d.parsed, o); ch.Reload {
		return ch.Reason
	}
	if a := e.applied; a != nil && a.hash != d.hash && a.parsed != nil {
		if ch := haproxy.PlanWith(a.parsed, d.parsed, o); ch.Reload {
			return ch.Reason
		}
	}
	return ""
}

// retry schedules the next attempt after a failure, with backoff.
func (e *Engine) retry() time.Duration {
	e.failures++
	b := min(time.Second<<min(e.failures-1, 5), 30*time.Second)
	e.notBefore = e.clock.Now().Add(b)
	e.after(b)
	return b
}

// checkFiles puts back HAProxy's files if something else changed them.
func (e *Engine) checkFiles(drift bool) {
	want := e.desired
	if e.refused == want.hash && e.applied != nil {
		want = e.applied
	}
	if n, err := writeGeneration(e.o.Config, want); err != nil {
		e.log.Error("could not write haproxy's config", "error", err)
	} else if n > 0 && drift {
		e.m.Drift.WithLabelValues(driftFile).Inc()
		e.log.Warn("drift repaired: haproxy's files had changed on disk; rewritten", "files", n, "hash", want.short())
	}
}
