// Package apply is harender's apply engine, used by render, render
// --reload and run alike. It commits rendered outputs all or nothing,
// after haproxy -c has checked HAProxy's candidate, and then makes HAProxy
// run what was committed: through the runtime API where that suffices,
// with one confirmed reload where not, with a start where HAProxy is not
// running. It never trusts a model of HAProxy: every converge asks HAProxy
// (show proc, show servers state) and compares.
package apply

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/harender/harender/haproxy"
)

// Options are the engine's settings.
type Options struct {
	// Config is HAProxy's main config, one of the destinations; "" when
	// harender only writes files.
	Config            string
	MasterSocket      string
	RuntimeSocket     string
	ServerStateFile   string
	Reload            string // auto, always or never
	MinReloadInterval time.Duration
	// ReconcileInterval is how often HAProxy is compared with what was
	// rendered when nothing else happens; 0 turns the tick off.
	ReconcileInterval time.Duration
	// Start has the engine start HAProxy, and start it again when it dies.
	Start bool
	// CheckAsync runs haproxy -c off the caller's goroutine for a change
	// of servers already sent to the runtime API (check_async.go). Apply
	// then returns before the file is written: for harender run only.
	CheckAsync bool
	// CheckDelay holds each background check back this long, restarted by
	// every newer candidate but never past CheckDelayMax since the first
	// one left unchecked: under churn the runtime API applies every
	// change at once, and haproxy -c of the whole file runs once a burst.
	CheckDelay, CheckDelayMax time.Duration
	// VRRPWeightFile, if set, is kept at "0" while HAProxy runs what was
	// applied and "-254" while not, for keepalived's track_file
	// (status_file.go). At Close it is set to "-254" and the engine waits
	// VRRPHandoverDelay before stopping the HAProxy it started.
	VRRPWeightFile    string
	VRRPHandoverDelay time.Duration

	HAProxy HAProxy // how HAProxy is reached; see NewHAProxy
	Clock   Clock   // nil: the real clock
	Logger  *slog.Logger
	Metrics *Metrics // nil: counted nowhere
}

// Engine is the apply engine. Apply, Commit, Converge and Close are called
// from one goroutine; Health and Wake may be called from any.
type Engine struct {
	o     Options
	hap   HAProxy
	clock Clock
	log   *slog.Logger
	m     *Metrics
	cmds  *commandRunner

	desired     *generation // the last committed generation
	applied     *generation // the last generation HAProxy was seen to run in full
	loaded      *loadedRecord
	changed     bool // desired changed since the last converge: work is change, not drift
	writeFailed bool // the last commit could not write its files

	lastReload     time.Time
	failures       int       // consecutive failed reloads or starts
	notBefore      time.Time // no reload or start before this (backoff)
	force          string    // a reload owed for a reason the configs do not show
	refused        string    // the generation HAProxy refused to load, retried with backoff
	noMaster       string    // the last reload reason logged as impossible, to log it once
	proc           Process
	seenRunning    bool                    // this run has seen HAProxy running
	procDone       chan struct{}           // closed when the goroutine watching proc ends
	weight         *weightFile             // nil without a VRRP weight file
	versions       map[int]haproxy.Version // HAProxy's release per master pid
	busy           map[string]bool         // removed servers still busy, deleted on a retry
	triedEarly     map[string]bool         // servers found busy by serversFirst, during one Apply
	moving         map[string]time.Time    // servers draining before a move on 2.x (moves.go)
	pending        *pendingCheck           // a candidate in HAProxy, its check running (check_async.go)
	prechecked     string                  // the generation whose check passed off the loop
	uncheckedSince time.Time               // when the oldest candidate not yet checked was sent
	early          bool                    // HAProxy got servers of a candidate not committed (early.go)

	wake   chan struct{}
	timer  Timer
	wakeAt time.Time

	mu        sync.Mutex
	health    string // "" when HAProxy runs the desired generation, else why not
	rejection string // why the last commit was refused, until one succeeds
}

// New returns an engine. It reads the record of what HAProxy loaded, if
// an earlier run left one; nothing is sent to HAProxy until Converge.
func New(o Options) *Engine {
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	e := &Engine{
		o: o, hap: o.HAProxy, clock: o.Clock, log: o.Logger, m: o.Metrics,
		versions: map[int]haproxy.Version{}, busy: map[string]bool{}, moving: map[string]time.Time{}, wake: make(chan struct{}, 1),
	}
	e.cmds = newCommandRunner(e.log, e.m)
	e.weight = newWeightFile(o.VRRPWeightFile, e.log)
	if o.Config != "" {
		rec, err := readLoaded(o.Config)
		if err != nil {
			e.log.Warn("cannot read the record of what HAProxy loaded; HAProxy will be reloaded once", "error", err)
		}
		e.loaded = rec
	}
	return e
}

// Wake fires when the engine has work due: a deferred reload, a retry,
// HAProxy's exit, or the reconcile tick. The caller then calls Converge.
func (e *Engine) Wake() <-chan struct{} { return e.wake }

// Pending reports whether HAProxy has yet to run the last committed
// generation in full (a reload deferred or owed).
func (e *Engine) Pending() bool { return e.changed }

// Health reports whether HAProxy runs what was rendered, and if not, why,
// in one line.
func (e *Engine) Health() (ok bool, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rejection != "" {
		return false, e.rejection
	}
	return e.health == "", e.health
}

func (e *Engine) setRejection(reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rejection = reason
}

func (e *Engine) setHealth(reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.health = reason
	e.weight.setHealth(reason)
}

// Close waits for running commands (ctx bounds the wait) and stops the
// HAProxy that the engine started.
func (e *Engine) Close(ctx context.Context) {
	e.dropCheck()
	if e.timer != nil {
		e.timer.Stop()
	}
	e.cmds.close(ctx)
	if e.proc != nil {
		e.weight.giveUp(ctx, e.o.VRRPHandoverDelay)
		if err := e.proc.Stop(5 * time.Second); err != nil {
			e.log.Warn("stopping haproxy", "error", err)
		}
		<-e.procDone
		e.proc = nil
	}
	e.weight.giveUp(ctx, 0) // written already when HAProxy was stopped
}

// after asks for a wake-up in d, unless one is due sooner.
func (e *Engine) after(d time.Duration) {
	now := e.clock.Now()
	at := now.Add(d)
	// A wake-up already due (its timer fired) does not count.
	if e.wakeAt.After(now) && !at.Before(e.wakeAt) {
		return
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	e.wakeAt = at
	e.timer = e.clock.AfterFunc(d, e.poke)
}

// poke signals Wake without blocking.
func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// errNoMaster is a reload that cannot be sent: no master socket is set.
var errNoMaster = errors.New("no master_socket is set, so harender cannot reload HAProxy")
