package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/renderer"
)

// With Options.CheckAsync, a candidate whose servers serversFirst already
// sent to HAProxy is checked by haproxy -c in the background: the loop is
// free for the next Consul change meanwhile. The candidate is committed
// when the check passes; a refused one is taken back out of HAProxy. Until
// then Converge leaves HAProxy's servers alone.

// checkDelay is how long the next background check waits: CheckDelay,
// cut so that no candidate waits past CheckDelayMax since the first one
// still unchecked. A newer candidate drops the waiting one, so a burst of
// changes is checked once.
func (e *Engine) checkDelay() time.Duration {
	if e.o.CheckDelay <= 0 {
		return 0
	}
	now := e.clock.Now()
	if e.uncheckedSince.IsZero() {
		e.uncheckedSince = now
	}
	left := e.uncheckedSince.Add(max(e.o.CheckDelayMax, e.o.CheckDelay)).Sub(now)
	return max(min(e.o.CheckDelay, left), 0)
}

// pendingCheck is a candidate in HAProxy's runtime, not yet checked.
type pendingCheck struct {
	outs   []Output
	hash   string
	staged *renderer.Staged
	cancel context.CancelFunc
	done   chan error // the check's result, once
}

// startCheck checks HAProxy's staged candidate off the loop. It reports
// false, and does nothing, when outs change more than HAProxy's config:
// then Commit checks and writes them all together as usual.
func (e *Engine) startCheck(ctx context.Context, outs []Output, g *generation, st *renderer.Staged) bool {
	if g == nil || len(g.files) > 0 || st == nil {
		return false
	}
	for _, o := range outs {
		if o.Dest == e.o.Config {
			continue
		}
		if old, err := os.ReadFile(o.Dest); err != nil || !bytes.Equal(old, o.Data) {
			return false
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	p := &pendingCheck{outs: outs, hash: g.hash, staged: st, cancel: cancel, done: make(chan error, 1)}
	start := make(chan struct{})
	if d := e.checkDelay(); d > 0 {
		t := e.clock.AfterFunc(d, func() { close(start) })
		p.cancel = func() { t.Stop(); cancel() }
	} else {
		close(start)
	}
	go func() {
		var err error
		select {
		case <-start:
			err = e.hap.Check(cctx, st.Path)
		case <-cctx.Done():
			err = cctx.Err()
		}
		dropped := cctx.Err() != nil // superseded or shutting down: no settle to wake
		p.done <- err
		if !dropped {
			e.poke()
		}
	}()
	e.pending = p
	e.writeFailed = false // it was staged: the disk takes writes again
	return true
}

// dropCheck abandons a pending check and waits for it to end.
func (e *Engine) dropCheck() {
	waitCheck(e.cancelCheck())
}

// cancelCheck abandons a pending check, and removes its candidate, without
// waiting for the check to end: a newer candidate supersedes it, and
// killing a running haproxy -c takes milliseconds on a busy machine. The
// killed process may still hold the file open; that is harmless.
func (e *Engine) cancelCheck() *pendingCheck {
	p := e.pending
	if p != nil {
		p.cancel()
		p.staged.Discard()
		e.pending = nil
	}
	return p
}

// waitCheck waits for a cancelled check to end.
func waitCheck(p *pendingCheck) {
	if p != nil {
		<-p.done
	}
}

// settleCheck ends a finished background check: a passed candidate is
// committed, a refused one is returned as the error (the Converge that
// follows takes its servers back out of HAProxy). running reports a check
// still under way.
func (e *Engine) settleCheck(ctx context.Context) (err error, running bool) {
	p := e.pending
	if p == nil {
		return nil, false
	}
	select {
	case err = <-p.done:
	default:
		return nil, true
	}
	e.pending = nil
	e.uncheckedSince = time.Time{}
	p.cancel()
	if err == nil {
		e.prechecked = p.hash
		_, err = e.Commit(ctx, p.outs)
		e.prechecked = ""
		return err, false
	}
	var ce *haproxy.CheckError
	if errors.As(err, &ce) {
		e.m.CheckFailures.Inc()
		e.setRejection("haproxy -c rejected the candidate for " + e.o.Config)
		err = fmt.Errorf("%s left as it was; the rejected candidate is kept at %s: %w", e.o.Config, p.staged.Path, err)
	}
	e.log.Error("the servers already sent to haproxy's runtime API are taken back: the candidate was refused",
		"candidate", p.staged.Path, "error", err)
	return err, false
}
