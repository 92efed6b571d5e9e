package watch

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// The shared queries. One blocking query per `service` dependency costs one
// connection per dependency: past about 190 services the agent's default
// http_max_conns_per_client (200) refuses the rest. So, with
// Options.Shared, every `service` dependency that a shared query can
// answer (the default datacenter, namespace and partition, no `near`, no
// peer: see shareable) is served by a hub instead:
//
//   - three blocking "trigger" queries watch the whole catalog:
//     /v1/health/state/any (every check, with its service and index),
//     /v1/catalog/services (names and tags; its index moves on any service
//     registration change) and /v1/catalog/nodes (addresses and meta);
//   - when a trigger wakes, the hub works out which services changed
//     (shared_triggers.go) and fetches only those, with plain requests
//     (no index, so they do not block) by at most sharedWorkers at once;
//     a change it cannot pin on a service refetches every watched one;
//   - each dependency keeps its poller (watcher.go), with the hold,
//     keep-last and mass-removal rules: the hub answers the poller's query
//     as Consul would, blocking until the service's index moves, so the
//     data and the rules are the same as with a query of its own.
//
// Every request of the hub goes over one transport bounded to
// SharedMaxConns connections (client.go), so harender holds at most that
// many to the agent for all its services, however many there are.

const (
	// SharedMaxConns bounds the connections of the shared queries: three
	// triggers and sharedWorkers fetches.
	SharedMaxConns = 3 + sharedWorkers
	// sharedWorkers is how many services are fetched at once.
	sharedWorkers = 4
)

// sharedKey marks a request of the hub, for the bounded transport.
type sharedKey struct{}

func withShared(ctx context.Context) context.Context {
	return context.WithValue(ctx, sharedKey{}, true)
}

func isShared(ctx context.Context) bool {
	v, _ := ctx.Value(sharedKey{}).(bool)
	return v
}

// sharedTransport is base bounded to SharedMaxConns connections per host,
// kept alive between requests.
func sharedTransport(base *http.Transport) http.RoundTripper {
	t := base.Clone()
	t.MaxConnsPerHost = SharedMaxConns
	t.MaxIdleConnsPerHost = SharedMaxConns
	return t
}

// hubKey is what one fetch asks: a service, and a tag Consul filters on.
type hubKey struct{ name, tag string }

// hubResult is the latest fetch of a service: every instance, whatever
// its status, converted and sorted as healthServices does (the raw
// answer is not kept). gen counts the fetches.
type hubResult struct {
	list []*HealthService
	meta *api.QueryMeta
	err  error
	gen  uint64
}

// hubService is the state of one fetched service.
type hubService struct {
	res     hubResult
	changed chan struct{} // closed and replaced when res changes
	queued  bool          // in the queue, not started
	running bool          // a fetch is under way
	rerun   bool          // fetch again when the running one ends
	fetched uint64        // Consul's index of the latest fetch
	shown   uint64        // the highest index handed out (shared_index.go)
}

// hub serves the shareable `service` dependencies of one Watcher.
type hub struct {
	client *api.Client
	opts   Options
	log    *slog.Logger
	ctx    context.Context // marked shared, with the Observe hook
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	cond     *sync.Cond // signals the workers: queue grew, or stopped
	started  bool
	stopped  bool
	services map[hubKey]*hubService
	watched  map[hubKey]bool
	queue    []hubKey

	intern  *interner    // node data shared between instances (intern.go)
	checks  checkLog     // what the checks trigger saw (shared_triggers.go)
	catalog catalogState // the services trigger's answer (shared_catalog.go)
	// ready is closed once every trigger has its first answer: no service
	// is fetched before, so that no change falls between a fetch and the
	// answer its trigger compares the next one with.
	ready     chan struct{}
	baselines int // triggers still without a first answer
}

func newHub(c *api.Client, o Options) *hub {
	ctx, cancel := context.WithCancel(context.Background())
	h := &hub{
		client:   c,
		opts:     o,
		log:      o.Logger.With("shared", true),
		ctx:      withObserver(withShared(ctx), o.Observe),
		cancel:   cancel,
		services: map[hubKey]*hubService{},
		watched:  map[hubKey]bool{},
	}
	h.cond = sync.NewCond(&h.mu)
	h.ready = make(chan struct{})
	h.catalog.changed = make(chan struct{})
	h.checks.init()
	return h
}

// shareable returns the health query behind d when the hub can answer it.
func shareable(d Dependency) (*HealthServiceQuery, bool) {
	var q *HealthServiceQuery
	switch v := d.(type) {
	case *HealthServiceQuery:
		q = v
	case *keeper:
		q = v.HealthServiceQuery
	default:
		return nil, false
	}
	return q, !q.connect && q.near == "" && q.scope == scope{}
}

// fetchDep answers d's query through the hub; ok is false when d is not
// shareable. The data is what d.Fetch would return.
func (h *hub) fetchDep(ctx context.Context, d Dependency, q *api.QueryOptions) (data any, meta *api.QueryMeta, err error, ok bool) {
	if sharedCatalog(d) {
		data, meta, err := h.fetchCatalog(ctx, q)
		return data, meta, err, true
	}
	hq, ok := shareable(d)
	if !ok {
		return nil, nil, nil, false
	}
	list, meta, err := h.fetch(ctx, hubKey{hq.name, hq.tag}, q)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", hq, err), true
	}
	if k, isKeeper := d.(*keeper); isKeeper {
		k.failing = map[instanceKey]bool{}
		for _, s := range list {
			if s.Status == api.HealthCritical || s.Status == api.HealthWarning {
				k.failing[instanceKey{s.Node, s.ID}] = true
			}
		}
	}
	// Fetched without ?passing: filtered here, as Consul would (a passing
	// entry is one whose every check passes; see keep_last.go), and as
	// healthServices filters: the order is kept.
	out := make([]*HealthService, 0, len(list))
	for _, s := range list {
		if acceptStatus(hq.filters, s.Status) {
			out = append(out, s)
		}
	}
	return out, meta, nil, true
}

// setWatched records the services the templates ask for; the others are
// forgotten.
func (h *hub) setWatched(deps map[string]Dependency) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.watched = map[hubKey]bool{}
	for _, d := range deps {
		if hq, ok := shareable(d); ok {
			h.watched[hubKey{hq.name, hq.tag}] = true
		}
	}
	for k := range h.services {
		if !h.watched[k] {
			delete(h.services, k)
		}
	}
}

// fetch answers a query of one service as a blocking query would: with
// WaitIndex 0 by a new fetch; otherwise as soon as the data's index is
// another (at once if it already is: it may have moved while the poller
// slept between two queries), or a fetch fails, or with the same data
// after WaitTime.
func (h *hub) fetch(ctx context.Context, key hubKey, q *api.QueryOptions) ([]*HealthService, *api.QueryMeta, error) {
	h.start()
	h.mu.Lock()
	s := h.service(key)
	start := s.res.gen
	var target uint64
	if q.WaitIndex == 0 || start == 0 {
		target = h.request(key, s)
	}
	h.mu.Unlock()

	wait := q.WaitTime
	if wait <= 0 {
		wait = defaultQueryTime
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		h.mu.Lock()
		r, changed := s.res, s.changed
		h.mu.Unlock()
		switch {
		case target > 0 && r.gen >= target,
			target == 0 && r.gen > start && r.err != nil,
			target == 0 && r.err == nil && r.meta != nil && r.meta.LastIndex != q.WaitIndex:
			return r.list, r.meta, r.err
		}
		select {
		case <-changed:
		case <-timer.C:
			if target > 0 {
				continue // a first answer is awaited whatever the wait
			}
			return r.list, r.meta, r.err
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-h.ctx.Done():
			return nil, nil, h.ctx.Err()
		}
	}
}

// service returns the state of key, made if new. h.mu is held.
func (h *hub) service(key hubKey) *hubService {
	s := h.services[key]
	if s == nil {
		s = &hubService{changed: make(chan struct{})}
		h.services[key] = s
	}
	return s
}

// request asks for a fetch of key that starts from now, and returns the
// generation that will hold it. h.mu is held.
func (h *hub) request(key hubKey, s *hubService) uint64 {
	switch {
	case s.running:
		s.rerun = true
		return s.res.gen + 2
	case s.queued:
		return s.res.gen + 1
	default:
		s.queued = true
		h.queue = append(h.queue, key)
		h.cond.Signal()
		return s.res.gen + 1
	}
}

// refetch asks a fresh fetch of each watched key that keep accepts (nil:
// every one). It returns how many were asked.
func (h *hub) refetch(keep func(hubKey) bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for k := range h.watched {
		if keep == nil || keep(k) {
			h.request(k, h.service(k))
			n++
		}
	}
	return n
}

// fail hands err to every watched service, as each of their own queries
// would have failed: their pollers retry, and judge the next answer as
// one that follows a failure (hold.go).
func (h *hub) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.watched {
		s := h.service(k)
		if s.res.gen == 0 {
			continue // no poller holds an index yet
		}
		h.publish(s, hubResult{err: err, gen: s.res.gen + 1})
	}
}

// publish sets s's result and wakes its waiters. h.mu is held.
func (h *hub) publish(s *hubService, r hubResult) {
	s.res = r
	close(s.changed)
	s.changed = make(chan struct{})
}

// start runs the triggers and the workers, once.
func (h *hub) start() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started || h.stopped {
		return
	}
	h.started = true
	for range sharedWorkers {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.work()
		}()
	}
	h.runTriggers()
}

// stop ends the triggers and the workers and waits for them.
func (h *hub) stop() {
	h.mu.Lock()
	h.stopped = true
	h.cond.Broadcast()
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
}

// baselined counts a trigger's first answer.
func (h *hub) baselined() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.baselines--; h.baselines == 0 {
		close(h.ready)
	}
}

// work fetches queued services until the hub stops.
func (h *hub) work() {
	select {
	case <-h.ready:
	case <-h.ctx.Done():
		return
	}
	for {
		h.mu.Lock()
		for len(h.queue) == 0 && !h.stopped {
			h.cond.Wait()
		}
		if h.stopped {
			h.mu.Unlock()
			return
		}
		key := h.queue[0]
		h.queue = h.queue[1:]
		s := h.services[key]
		if s == nil {
			h.mu.Unlock()
			continue // no longer watched
		}
		s.queued, s.running = false, true
		h.mu.Unlock()

		q := (&api.QueryOptions{}).WithContext(h.ctx)
		entries, meta, err := h.client.Health().Service(key.name, key.tag, false, q)
		observe(h.ctx, "health/service", err)
		if err == nil && meta == nil {
			err = fmt.Errorf("no query metadata in answer")
		}

		h.mu.Lock()
		s.running = false
		if h.services[key] == s {
			var list []*HealthService
			if err == nil {
				list = healthServices(h.intern, entries, []string{HealthAny}, false)
				meta = s.shownIndex(list, meta)
			}
			h.publish(s, hubResult{list: list, meta: meta, err: err, gen: s.res.gen + 1})
			if s.rerun {
				s.rerun = false
				h.request(key, s)
			}
		}
		h.mu.Unlock()
	}
}
