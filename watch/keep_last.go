package watch

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hashicorp/consul/api"
)

// The keep-last rule (issue 7, fault 3). When every instance of a service
// fails its Consul checks, a `service` query filtered to passing instances
// (the default filter) answers [], and HAProxy would get an empty backend
// and answer 503 at once, even when the checks failed for a reason that is
// Consul's alone: a check broken by a deploy, a check endpoint that times
// out under load while the service still answers, an agent that cannot
// reach instances HAProxy can. So, by default, such an answer keeps the
// last non-empty set delivered, with a warning once per episode, and
// HAProxy's own health checks decide which servers take traffic. When they
// fail too, clients get HAProxy's 503, as they would with an empty
// backend, a check interval later. Options.AllowEmpty turns the rule off,
// for those who want the fast 503.
//
// Consul's ?passing filter hides why an answer is empty: the instances may
// fail their checks, or be gone. So a query the rule applies to is sent
// without ?passing and filtered here, as healthServices filters for every
// other filter already; the one answer then also names the instances that
// are registered but failing (critical or warning). Only those are kept:
// an instance that was deregistered, or put in maintenance (an operator
// took it out), leaves the kept set, and when none is left the empty
// answer goes on to the hold rule (hold.go). The rule needs something
// delivered to keep: a first answer is delivered as it is.

// GuardKeepLast and GuardMassRemoval name the rules that Options.Guarded
// reports.
const (
	GuardKeepLast    = "keep_last"
	GuardMassRemoval = "mass_removal"
)

// instanceKey identifies one instance of a service.
type instanceKey struct{ node, id string }

// keepLast is the pure rule: given the list last delivered, the passing
// instances now and the instances now registered but failing, it returns
// the instances of last to keep delivering, or nil when now is to be
// delivered as it is (it is not empty, nothing was delivered, or none of
// the delivered instances is still registered and failing).
func keepLast(last, now []*HealthService, failing map[instanceKey]bool) []*HealthService {
	if len(now) > 0 || len(last) == 0 {
		return nil
	}
	var kept []*HealthService
	for _, s := range last {
		if failing[instanceKey{s.Node, s.ID}] {
			kept = append(kept, s)
		}
	}
	if len(kept) == len(last) {
		return last // unchanged: the content check drops it
	}
	return kept
}

// keeper runs the keep-last rule for one dependency. It stands in for the
// dependency in the poller's fetch: its Fetch asks without ?passing and
// records the failing instances of the answer.
type keeper struct {
	*HealthServiceQuery
	failing map[instanceKey]bool // of the latest answer
	active  bool                 // an episode is on: the last set is kept
	log     *slog.Logger
	guarded func(rule, dependency string, active bool)
}

// newKeeper returns the keeper of d, or nil when the rule does not apply:
// d is not a health query filtered to passing instances only, or the rule
// is off.
func newKeeper(d Dependency, o Options, log *slog.Logger) *keeper {
	q, ok := d.(*HealthServiceQuery)
	if !ok || o.AllowEmpty || !q.passingOnly() {
		return nil
	}
	return &keeper{HealthServiceQuery: q, log: log, guarded: o.Guarded}
}

// Fetch implements Dependency: d's query without ?passing, filtered here.
func (k *keeper) Fetch(ctx context.Context, c *api.Client, q *api.QueryOptions) (any, *api.QueryMeta, error) {
	d := k.HealthServiceQuery
	query, endpoint := c.Health().Service, "health/service"
	if d.connect {
		query, endpoint = c.Health().Connect, "health/connect"
	}
	entries, meta, err := query(d.name, d.tag, false, d.options(ctx, q, d.near))
	observe(ctx, endpoint, err)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d, err)
	}
	k.failing = failingInstances(entries)
	return healthServices(internerFrom(ctx), entries, d.filters, d.near != ""), meta, nil
}

// failingInstances lists the instances of an unfiltered answer whose checks
// fail: critical or warning, not in maintenance.
func failingInstances(entries []*api.ServiceEntry) map[instanceKey]bool {
	failing := map[instanceKey]bool{}
	for _, e := range entries {
		if e == nil || e.Node == nil || e.Service == nil {
			continue
		}
		switch e.Checks.AggregatedStatus() {
		case api.HealthCritical, api.HealthWarning:
			failing[instanceKey{e.Node.Node, e.Service.ID}] = true
		}
	}
	return failing
}

// apply returns what to judge instead of the answer data, given the data
// last delivered: the kept instances during an episode, data otherwise.
// It logs and reports the start and the end of an episode.
func (k *keeper) apply(last, data any, received bool) any {
	prev, _ := last.([]*HealthService)
	now, _ := data.([]*HealthService)
	var kept []*HealthService
	if received {
		kept = keepLast(prev, now, k.failing)
	}
	switch {
	case kept != nil && !k.active:
		k.active = true
		k.log.Warn("every instance of the service fails its checks, keeping the last instances; HAProxy's checks decide",
			"service", k.name, "failing", len(k.failing), "kept", len(kept))
		k.report(true)
	case kept == nil && k.active:
		k.active = false
		k.log.Info("keeping the last instances ended", "service", k.name, "passing", len(now))
		k.report(false)
	}
	if kept != nil {
		return kept
	}
	return data
}

// stop ends an episode when the dependency stops, so that every start
// reported has its end.
func (k *keeper) stop() {
	if k.active {
		k.active = false
		k.report(false)
	}
}

func (k *keeper) report(active bool) {
	if k.guarded != nil {
		k.guarded(GuardKeepLast, k.String(), active)
	}
}
