package apply

import (
	"context"
	"fmt"
	"os"

	"github.com/harender/harender/haproxy"
)

// ensureRunning starts HAProxy when the engine supervises it and it is
// not running: at the first converge, after it died, or when harender
// restarted. An HAProxy already answering on the master socket (left by an
// earlier harender) is taken over, not started twice. When it had to ask
// the master, it returns what show proc said (have), so that the caller
// need not ask again.
func (e *Engine) ensureRunning(ctx context.Context, drift bool) (procs haproxy.Procs, have bool, err error) {
	if e.proc != nil {
		select {
		case <-e.proc.Done():
			e.log.Error("haproxy exited; starting it again", "exit", fmt.Sprint(e.proc.ExitErr()), "last_lines", e.proc.Tail())
			<-e.procDone
			e.proc = nil
		default:
			return procs, false, nil
		}
	} else if procs, err := e.probe(ctx); err == nil {
		e.seenRunning = true
		return procs, true, nil
	}
	// Not running is drift only once this run has seen it running: at the
	// start of harender, starting HAProxy is the ordinary thing to do.
	drift = e.seenRunning
	e.m.HAProxyUp.Set(0)
	if now := e.clock.Now(); now.Before(e.notBefore) {
		e.after(e.notBefore.Sub(now))
		e.setHealth("haproxy is not running")
		return procs, false, fmt.Errorf("haproxy is not running; next start in %s", e.notBefore.Sub(now).Round(1e6))
	}
	if _, err := writeGeneration(e.o.Config, e.desired); err != nil {
		return procs, false, fmt.Errorf("start haproxy: %w", err)
	}
	p, err := e.hap.Start(ctx)
	if err != nil {
		b := e.retry()
		e.setHealth("haproxy failed to start")
		return procs, false, fmt.Errorf("start haproxy (next try in %s): %w", b, err)
	}
	e.proc, e.procDone, e.seenRunning = p, make(chan struct{}), true
	e.weight.setExited(false)
	go func(p Process, done chan<- struct{}) {
		<-p.Done()
		e.weight.setExited(true) // at once, not at the next converge
		e.poke()
		close(done)
	}(p, e.procDone)
	e.failures, e.lastReload, e.force, e.refused = 0, e.clock.Now(), "", ""
	procs, err = e.hap.ShowProc(ctx)
	if err != nil {
		return procs, false, fmt.Errorf("haproxy started (pid %d) but its master does not answer: %w", p.PID(), err)
	}
	if e.loaded, err = writeLoaded(e.o.Config, procs, e.desired); err != nil {
		e.log.Warn("started haproxy, but could not record it", "error", err)
	}
	if drift {
		e.m.Drift.WithLabelValues(driftNotRunning).Inc()
		e.log.Warn("drift repaired: haproxy was not running; started it", "pid", p.PID(), "hash", e.desired.short())
	} else {
		e.log.Info("started haproxy", "pid", p.PID(), "master_socket", e.o.MasterSocket, "hash", e.desired.short())
	}
	return procs, true, nil
}

// probe asks the master socket what runs, without waiting for a socket
// that is not there.
func (e *Engine) probe(ctx context.Context) (haproxy.Procs, error) {
	if _, err := os.Stat(e.o.MasterSocket); err != nil {
		return haproxy.Procs{}, err
	}
	return e.hap.ShowProc(ctx)
}
