package watch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// Options tune a Watcher. Zero values take the defaults.
type Options struct {
	// WaitTime is how long a blocking query may wait for a change.
	// Default 60s.
	WaitTime time.Duration
	// MaxStale, when positive, lets any server answer (stale reads); an
	// answer whose last contact with the leader is older than MaxStale is
	// asked again of the leader.
	MaxStale time.Duration
	// MinInterval is the least time between the starts of two queries of
	// one dependency; up to a quarter more is added at random. Default
	// 100ms.
	MinInterval time.Duration
	// Backoff is the first retry delay after an error; it doubles per
	// consecutive failure up to MaxBackoff and resets after a success.
	// Retries never stop. Defaults 250ms and 30s.
	Backoff, MaxBackoff time.Duration
	// HoldEmpty is how long a suspect list answer is held back: one with
	// fewer items than the data delivered that is empty, comes without a
	// known leader, or comes right after a failed request or an index
	// reset (an agent restart or a leader election); and a first answer
	// that is empty and comes without a known leader or after a failed
	// request (harender started while its agent was restarting). A later
	// answer that is not suspect replaces it; if suspect answers keep
	// coming for HoldEmpty, the latest is delivered. A held first answer
	// leaves its dependency unanswered until then. Default 5s; negative
	// disables the rule. See hold.go.
	HoldEmpty time.Duration
	// AllowEmpty turns the keep-last rule off. By default, when every
	// instance of a service fails its checks, a `service` query filtered
	// to passing instances (the default filter) keeps delivering the
	// instances it last delivered that are still registered and failing,
	// instead of an empty list, with a Warn once per episode, so that
	// HAProxy's own checks decide; with AllowEmpty the empty list goes
	// through and HAProxy answers 503 at once. See keep_last.go.
	AllowEmpty bool
	// MaxRemovalPercent is the share of a service's instances, in percent,
	// that one change may remove without being held back as a mass
	// removal. A change that removes more, from at least 4 delivered
	// instances, is held for RemovalHold with a Warn and delivered if it
	// is still a mass removal then; an answer within the hold that is not
	// one is delivered at once. Default 50 (5→2 is held, 4→2 is not);
	// negative or 100 and more disables the rule. See mass_removal.go.
	MaxRemovalPercent int
	// RemovalHold is how long a mass removal is held back. Default 30s;
	// negative disables the rule.
	RemovalHold time.Duration
	// Guarded, if set, is called when the keep-last or the mass-removal
	// rule starts (active true) and stops (false) holding back what Consul
	// says of a dependency: rule is GuardKeepLast or GuardMassRemoval,
	// dependency the dependency's identity. Every start is followed by a
	// stop, at the latest when the dependency stops being watched; calls
	// for one dependency come in order from one goroutine.
	Guarded func(rule, dependency string, active bool)
	// Logger receives Warn on every retry and held answer, and Debug on
	// every update. Nil discards.
	Logger *slog.Logger
	// Observe, if set, is called once per HTTP request to Consul with an
	// endpoint name such as "health/service" and the request's error.
	Observe func(endpoint string, err error)
	// Once stops each dependency's loop after its first answer, for a
	// one-shot render: no blocking re-query holds a connection open.
	Once bool
	// MaxInFlight, when positive, bounds the requests in flight at once.
	// Consul refuses more than 200 connections per client by default.
	MaxInFlight int
	// Shared serves every `service` dependency of the default datacenter,
	// without near, through a few blocking queries on the whole catalog
	// and plain fetches of the services that changed, over at most
	// SharedMaxConns connections (shared_hub.go). Ignored with Once.
	Shared bool
	// Serf, if set, is the Serf agent that serfMembers queries ask (see
	// serf.go). The Watcher does not close it.
	Serf *Serf

	// explainWait, if set, replaces the least wait of the shared queries
	// for their checks trigger (shared_checklog.go); tests only.
	explainWait time.Duration
}

func (o Options) withDefaults() Options {
	if o.WaitTime <= 0 {
		o.WaitTime = 60 * time.Second
	}
	if o.MinInterval <= 0 {
		o.MinInterval = 100 * time.Millisecond
	}
	if o.Backoff <= 0 {
		o.Backoff = 250 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = o.Backoff
	}
	if o.HoldEmpty == 0 {
		o.HoldEmpty = defaultHoldEmpty
	}
	if o.MaxRemovalPercent == 0 {
		o.MaxRemovalPercent = defaultMaxRemovalPercent
	}
	if o.RemovalHold == 0 {
		o.RemovalHold = defaultRemovalHold
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Watcher runs one blocking-query loop per watched dependency and keeps the
// latest answer of each.
type Watcher struct {
	client  *api.Client
	opts    Options
	updates chan struct{}
	wg      sync.WaitGroup

	inFlight chan struct{} // semaphore; nil when unbounded
	hub      *hub          // the shared queries; nil unless Options.Shared
	intern   *interner     // node data shared between answers (intern.go)

	mu      sync.Mutex
	stopped bool
	running map[string]*poller
	data    map[string]any
}

// poller is one running dependency loop.
type poller struct {
	dep    Dependency
	cancel context.CancelFunc
}

// New makes a Watcher that queries Consul through c. Nothing runs until
// Watch is called.
func New(c *api.Client, o Options) *Watcher {
	w := &Watcher{
		client:  c,
		opts:    o.withDefaults(),
		updates: make(chan struct{}, 1),
		running: map[string]*poller{},
		data:    map[string]any{},
		intern:  newInterner(),
	}
	if o.MaxInFlight > 0 {
		w.inFlight = make(chan struct{}, o.MaxInFlight)
	}
	if o.Shared && !o.Once {
		w.hub = newHub(c, w.opts)
		w.hub.intern = w.intern
	}
	return w
}

// Watch makes the watched set exactly deps (by identity): a dependency not
// yet watched gets its own goroutine, bound to ctx; one no longer listed is
// stopped and its data forgotten. A dependency whose ctx ends stops too,
// and is started again by a later Watch that lists it. Watch does not
// block, and does nothing after Stop.
func (w *Watcher) Watch(ctx context.Context, deps []Dependency) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}

	want := make(map[string]Dependency, len(deps))
	for _, d := range deps {
		if _, dup := want[d.String()]; !dup {
			want[d.String()] = d
		}
	}
	if w.hub != nil {
		w.hub.setWatched(want)
	}
	for key, p := range w.running {
		if _, ok := want[key]; !ok {
			p.cancel()
			delete(w.running, key)
			delete(w.data, key)
		}
	}
	for key, d := range want {
		if _, ok := w.running[key]; ok {
			continue
		}
		if _, ok := w.data[key]; ok && w.opts.Once {
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		p := &poller{dep: d, cancel: cancel}
		w.running[key] = p
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.poll(pctx, key, p)
			w.finished(key, p)
		}()
	}
}

// Updates is signalled (coalesced, never blocking the sender) whenever the
// data of any watched dependency changes.
func (w *Watcher) Updates() <-chan struct{} {
	return w.updates
}

// Snapshot returns a copy of the data received so far.
func (w *Watcher) Snapshot() Snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	data := make(map[string]any, len(w.data))
	for k, v := range w.data {
		data[k] = v
	}
	return Snapshot{data: data}
}

// Stop cancels every query and waits for every goroutine to return.
func (w *Watcher) Stop() {
	w.mu.Lock()
	w.stopped = true
	for key, p := range w.running {
		p.cancel()
		delete(w.running, key)
	}
	w.mu.Unlock()
	w.wg.Wait()
	if w.hub != nil {
		w.hub.stop()
	}
}

// store records data for key if p is still the poller of key, and signals.
func (w *Watcher) store(key string, p *poller, data any) {
	w.mu.Lock()
	current := w.running[key] == p
	if current {
		w.data[key] = data
	}
	w.mu.Unlock()
	if !current {
		return
	}
	select {
	case w.updates <- struct{}{}:
	default:
	}
}

// finished forgets p once its goroutine has returned, so that a later
// Watch can start key again.
func (w *Watcher) finished(key string, p *poller) {
	p.cancel()
	w.mu.Lock()
	if w.running[key] == p {
		delete(w.running, key)
	}
	w.mu.Unlock()
}

// nilBlocker is a dependency whose nil answers are held back.
type nilBlocker interface {
	blocksOnNil() bool
}

// poll is the blocking-query loop of one dependency. It returns when ctx
// is done.
func (w *Watcher) poll(ctx context.Context, key string, p *poller) {
	var (
		o          = w.opts
		log        = o.Logger.With("dependency", key)
		retry      = backoff{base: o.Backoff, max: o.MaxBackoff}
		fetchCtx   = withInterner(withObserver(ctx, o.Observe), w.intern)
		blocks     bool
		index      uint64
		last       any
		received   bool
		attempt    int
		hold       = holdState{hold: o.HoldEmpty}
		recovering bool // after a failure or an index reset: see hold.go
		allowStale = o.MaxStale > 0
		start      time.Time
		now        = true // skip the rate limit: first query, or a stale re-ask
		dep        = p.dep
		keep       = newKeeper(p.dep, o, log)
		removal    = newRemovalGuard(p.dep, o, log)
	)
	if nb, ok := p.dep.(nilBlocker); ok {
		blocks = nb.blocksOnNil()
	}
	if keep != nil {
		dep = keep // asks without ?passing: see keep_last.go
		defer keep.stop()
	}
	defer removal.stop()

	for {
		if !now && !sleep(ctx, rateLimit(time.Since(start), o.MinInterval)) {
			return
		}
		now = false
		start = time.Now()

		wait := o.WaitTime
		if hold.holding() {
			// Wake up when the hold ends even if nothing changes. Consul
			// waits 5 minutes when no wait is given, so never ask for 0.
			wait = min(wait, max(hold.remaining(start), time.Millisecond))
		}
		q := &api.QueryOptions{WaitIndex: index, WaitTime: wait, AllowStale: allowStale}
		data, meta, err := w.fetch(fetchCtx, dep, q)
		if ctx.Err() != nil {
			return
		}
		if err == nil && meta == nil {
			err = errors.New("no query metadata in answer")
		}
		if err != nil {
			// The next answer may come from a restarted agent or a new
			// leader whose index is behind ours: asked with our index, it
			// would block until it caught up, hiding its changes for up to
			// WaitTime. Ask afresh, and judge the answer by the hold rule.
			index, recovering = 0, true
			attempt++
			delay := retry.delay(attempt)
			log.Warn(source(p.dep)+" query failed, retrying",
				"attempt", attempt, "backoff", delay, "error", err)
			if !sleep(ctx, delay) {
				return
			}
			continue
		}
		attempt = 0

		if allowStale && meta.LastContact > o.MaxStale {
			log.Debug("stale answer, asking the leader",
				"last_contact", meta.LastContact, "max_stale", o.MaxStale)
			allowStale, now = false, true
			continue
		}
		allowStale = o.MaxStale > 0

		switch {
		case meta.LastIndex < index:
			log.Debug("index went backwards, resetting",
				"index", meta.LastIndex, "previous_index", index)
			index = 0
			recovering = true
			continue
		case meta.LastIndex != 0 && meta.LastIndex == index && !hold.holding():
			continue
		default:
			index = meta.LastIndex
		}

		if keep != nil {
			data = keep.apply(last, data, received)
		}
		prevLen, newLen := -1, listLen(data)
		if received {
			prevLen = listLen(last)
		}
		reason := suspectReason(prevLen, newLen, recovering, leaderKnown(meta))
		var limit time.Duration
		if reason != "" {
			limit = o.HoldEmpty
		}
		massLimit := removal.limit(prevLen, newLen)
		verdict, heldFor := hold.judge(time.Now(), max(limit, massLimit))
		logHold(log, verdict, heldFor, prevLen, newLen, o.HoldEmpty, reason)
		removal.judged(verdict, heldFor, prevLen, newLen, massLimit > 0)
		if !verdict.deliver() {
			continue
		}
		recovering = false

		if received && reflect.DeepEqual(data, last) {
			continue
		}
		if data == nil && blocks {
			continue
		}
		last, received = data, true
		if newLen >= 0 {
			log.Debug("dependency updated", "index", index, "items", newLen)
		} else {
			log.Debug("dependency updated", "index", index)
		}
		w.store(key, p, data)
		if o.Once {
			return
		}
	}
}

// fetch runs one query, within MaxInFlight.
func (w *Watcher) fetch(ctx context.Context, d Dependency, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	if w.hub != nil {
		if data, meta, err, ok := w.hub.fetchDep(ctx, d, q); ok {
			return data, meta, err
		}
	}
	if w.inFlight != nil {
		select {
		case w.inFlight <- struct{}{}:
			defer func() { <-w.inFlight }()
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	if sd, ok := d.(serfDependency); ok {
		return sd.fetchSerf(ctx, w.opts.Serf, q)
	}
	return d.Fetch(ctx, w.client, q)
}

// source names where a dependency's data comes from, for logs.
func source(d Dependency) string {
	if _, ok := d.(serfDependency); ok {
		return "serf"
	}
	return "consul"
}

// logHold logs what the hold rule did with an answer. before is negative
// when nothing was delivered yet (a first answer).
func logHold(log *slog.Logger, v holdVerdict, heldFor time.Duration, before, now int, hold time.Duration, reason string) {
	sizes := []any{"items_before", before, "items_now", now}
	if before < 0 {
		sizes = []any{"first_answer", true, "items_now", now}
	}
	switch v {
	case startHold:
		if reason == "" {
			return // held for a mass removal only: removalGuard warns
		}
		log.Warn("answer shrank while consul may be restarting, holding it back",
			append(sizes, "hold", hold, "reason", reason)...)
	case keepHolding:
		log.Debug("still holding a suspect answer",
			append(sizes, "held_for", heldFor, "reason", reason)...)
	case replaceHeld:
		log.Info("held answer dropped, a newer answer is not suspect",
			append(sizes, "held_for", heldFor)...)
	case releaseHeld:
		log.Info("held answer delivered after the hold",
			append(sizes, "held_for", heldFor)...)
	}
}
