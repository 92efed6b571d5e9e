package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/harender/harender/haproxy"
)

// busyRetry is how soon a server that was still busy when it was to be
// deleted is tried again. It waits in maintenance, taking no request.
const busyRetry = 500 * time.Millisecond

// convergeServers makes the servers HAProxy reports match generation g's
// config through the runtime API. partial is set while a reload is owed
// but not due: then what the runtime API can do now is done, and the rest
// waits for the reload. A difference only a reload can fix is returned as
// a needsReload.
func (e *Engine) convergeServers(ctx context.Context, g *generation, drift, partial bool) error {
	if !e.hasRuntime() || g.parsed == nil {
		return nil
	}
	obs, err := e.hap.ServersState(ctx)
	if err != nil {
		if partial {
			return nil
		}
		e.setHealth("haproxy runtime API is not answering on " + e.runtimePath())
		e.retry()
		return fmt.Errorf("ask haproxy for its servers: %w", err)
	}
	steps, why := haproxy.Reconcile(g.parsed, obs)
	if why != "" {
		if partial {
			return nil
		}
		return needsReload(why)
	}
	if len(steps) == 0 {
		return nil
	}
	for name := range e.moving {
		if !slices.ContainsFunc(steps, func(s haproxy.Step) bool { return s.Kind == haproxy.StepSetAddr && s.Name() == name }) {
			delete(e.moving, name) // moved back, or gone: nothing to drain for
		}
	}
	if r, drain := e.movesNeedReload(ctx, steps); r != "" {
		if drain {
			steps, r = e.drainMoves(ctx, steps, obs, r)
		}
		if r != "" && !partial {
			return needsReload(r)
		}
	}
	return e.runSteps(ctx, g, steps, drift, partial)
}

// runSteps sends steps to HAProxy's runtime API, toward generation g.
func (e *Engine) runSteps(ctx context.Context, g *generation, steps []haproxy.Step, drift, partial bool) error {
	// A busy server deleted on a retry is expected work, not drift.
	drift = drift && slices.ContainsFunc(steps, func(s haproxy.Step) bool { return !e.retrying(s) })
	var done, busy int
	var failed []error
	for _, s := range steps {
		retrying := e.retrying(s)
		if retrying && e.triedEarly[s.Name()] {
			busy++ // found busy moments ago, in this same apply
			continue
		}
		err := e.hap.Do(ctx, s)
		switch {
		case err == nil:
			done++
			delete(e.busy, s.Name())
		case errors.Is(err, haproxy.ErrServerBusy):
			busy++
			if !retrying {
				e.log.Info("removed server still has connections: in maintenance, taking no request, deleted later",
					"server", s.Name())
			}
			e.busy[s.Name()] = true
			if e.triedEarly != nil {
				e.triedEarly[s.Name()] = true
			}
		case errors.Is(err, haproxy.ErrUnsafeWord):
			e.log.Warn("a server's name or options hold characters never sent to haproxy; a reload applies it instead",
				"server", s.Name(), "error", err)
			failed = append(failed, err)
		default:
			failed = append(failed, fmt.Errorf("%s: %w", s, err))
		}
	}
	if busy > 0 {
		e.after(busyRetry)
	}
	if done > 0 {
		e.m.RuntimeUpdates.WithLabelValues("ok").Inc()
		if drift {
			e.m.Drift.WithLabelValues(driftServers).Inc()
			e.log.Warn("drift repaired: haproxy's servers differed from the rendered config", "steps", describe(steps))
		} else {
			e.log.Info("applied through the runtime API", "steps", len(steps), "done", done, "busy", busy, "hash", g.short())
		}
	}
	if len(failed) > 0 && !partial {
		e.m.RuntimeUpdates.WithLabelValues("failed").Inc()
		e.log.Warn("runtime API change failed; reloading instead", "error", errors.Join(failed...))
		return needsReload("runtime API change failed")
	}
	return nil
}

// hasRuntime reports whether HAProxy's runtime API can be reached: its
// own socket, or the master CLI, which passes commands to the worker.
func (e *Engine) hasRuntime() bool { return e.o.RuntimeSocket != "" || e.o.MasterSocket != "" }

// runtimePath names the socket runtime commands go through.
func (e *Engine) runtimePath() string {
	if e.o.RuntimeSocket != "" {
		return e.o.RuntimeSocket
	}
	return e.o.MasterSocket + " (master CLI, @1)"
}

// retrying reports whether s deletes a server that was busy before.
func (e *Engine) retrying(s haproxy.Step) bool {
	return s.Kind == haproxy.StepDelete && e.busy[s.Name()]
}

// movesNeedReload says why moved servers cannot go through the runtime
// API at once: the release is unknown, or it keeps reusing idle
// connections to a moved server's old address (2.x; seen on 2.6: 2
// changes in 120 never reached clients), so each move drains first
// (moves.go): drain reports that case.
func (e *Engine) movesNeedReload(ctx context.Context, steps []haproxy.Step) (why string, drain bool) {
	if !slices.ContainsFunc(steps, func(s haproxy.Step) bool { return s.Kind == haproxy.StepSetAddr }) {
		return "", false
	}
	v, err := e.release(ctx)
	if err != nil {
		return "haproxy version unknown: " + err.Error(), false
	}
	if !v.Has(haproxy.FeatureAddrPurgesIdle) {
		return fmt.Sprintf("a server address change on HAProxy %d.x", v.Major), true
	}
	return "", false
}

// release is the running HAProxy's release (show info), asked once per
// master.
func (e *Engine) release(ctx context.Context) (haproxy.Version, error) {
	key := 0
	if e.loaded != nil {
		key = e.loaded.masterPID
	}
	if v, ok := e.versions[key]; ok {
		return v, nil
	}
	major, minor, err := e.hap.Version(ctx)
	if err != nil {
		return haproxy.Version{}, err
	}
	v := haproxy.Version{Major: major, Minor: minor}
	e.versions[key] = v
	return v, nil
}

// describe lists steps for a log line, the first few in full.
func describe(steps []haproxy.Step) string {
	s := ""
	for i, st := range steps {
		if i == 5 {
			return s + fmt.Sprintf(", and %d more", len(steps)-5)
		}
		if i > 0 {
			s += ", "
		}
		s += st.String()
	}
	return s
}
