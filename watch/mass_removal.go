package watch

import (
	"log/slog"
	"time"
)

// The mass-removal rule (issue 7, fault 4). When more than
// Options.MaxRemovalPercent of a service's instances vanish in one change
// (a deploy script that deregisters a whole pool, an ACL or namespace
// mistake, a half-restarted agent the hold rule cannot see), the answer is
// held back for Options.RemovalHold, with a warning that gives the
// numbers, and delivered if it is still a mass removal then. An answer
// within the hold that is not a mass removal against what was delivered
// (the instances came back, or enough of them) cancels the hold and is
// delivered at once. Only service queries (`service`, `connect`,
// `catalog.service`) are judged: a KV tree or a node list may shrink as it
// likes.
//
// The held answer shares the hold rule's clock (hold.go): an empty answer
// that both rules flag is held for the longer of HoldEmpty and
// RemovalHold, once.
//
// Small pools are left out: below minRemovalBase delivered instances the
// percentage is too coarse to mean anything (2→1 is 50%, 3→1 67%), and
// removing two of three instances in one change is an ordinary rolling
// step, two deregistrations that one blocking answer happens to carry.

const (
	// defaultMaxRemovalPercent is Options.MaxRemovalPercent when left at 0.
	defaultMaxRemovalPercent = 50
	// defaultRemovalHold is Options.RemovalHold when left at 0.
	defaultRemovalHold = 30 * time.Second
	// minRemovalBase is the least number of delivered instances whose
	// shrink can be a mass removal.
	minRemovalBase = 4
)

// massRemoval reports whether going from prevLen to newLen instances
// removes more than maxPercent of them. Negative lengths (nothing
// delivered yet, not a list) never do; maxPercent <= 0 or >= 100 disables
// the rule.
func massRemoval(prevLen, newLen, maxPercent int) bool {
	if maxPercent <= 0 || maxPercent >= 100 || prevLen < minRemovalBase || newLen < 0 || newLen >= prevLen {
		return false
	}
	return (prevLen-newLen)*100 > maxPercent*prevLen
}

// removedPercent is the share of prevLen that a shrink to newLen removes,
// rounded down.
func removedPercent(prevLen, newLen int) int {
	if prevLen <= 0 || newLen >= prevLen {
		return 0
	}
	return (prevLen - newLen) * 100 / max(prevLen, 1)
}

// isServiceQuery reports whether the mass-removal rule judges d.
func isServiceQuery(d Dependency) bool {
	switch d.(type) {
	case *HealthServiceQuery, *CatalogServiceQuery:
		return true
	}
	return false
}

// removalGuard follows the mass-removal episodes of one dependency: it
// warns when a hold starts because of a mass removal, and says how the
// hold ended.
type removalGuard struct {
	maxPercent int
	hold       time.Duration
	active     bool // the current hold holds a mass removal
	log        *slog.Logger
	key        string
	guarded    func(rule, dependency string, active bool)
}

// newRemovalGuard returns the guard of d, or nil when the rule does not
// apply to it or is off.
func newRemovalGuard(d Dependency, o Options, log *slog.Logger) *removalGuard {
	if !isServiceQuery(d) || o.RemovalHold <= 0 || o.MaxRemovalPercent <= 0 || o.MaxRemovalPercent >= 100 {
		return nil
	}
	return &removalGuard{maxPercent: o.MaxRemovalPercent, hold: o.RemovalHold, log: log, key: d.String(), guarded: o.Guarded}
}

// limit is how long the answer may be held for being a mass removal: the
// hold, or 0 when it is not one. A nil guard never holds.
func (g *removalGuard) limit(prevLen, newLen int) time.Duration {
	if g == nil || !massRemoval(prevLen, newLen, g.maxPercent) {
		return 0
	}
	return g.hold
}

// judged logs what the hold did with an answer of newLen instances, with
// prevLen delivered: v is the verdict, mass whether the answer is a mass
// removal.
func (g *removalGuard) judged(v holdVerdict, heldFor time.Duration, prevLen, newLen int, mass bool) {
	if g == nil {
		return
	}
	nums := []any{"items_before", prevLen, "items_now", newLen,
		"removed_percent", removedPercent(prevLen, newLen), "max_removal_percent", g.maxPercent}
	switch {
	case !v.deliver() && mass && !g.active:
		g.active = true
		g.log.Warn("mass removal, holding it back", append(nums, "hold", g.hold)...)
		g.report(true)
	case v.deliver() && g.active:
		g.active = false
		if v == releaseHeld && mass {
			g.log.Warn("mass removal still true after the hold, delivering it", append(nums, "held_for", heldFor)...)
		} else {
			g.log.Info("mass removal hold cancelled, a newer answer is not one", append(nums, "held_for", heldFor)...)
		}
		g.report(false)
	}
}

// stop ends an episode when the dependency stops.
func (g *removalGuard) stop() {
	if g != nil && g.active {
		g.active = false
		g.report(false)
	}
}

func (g *removalGuard) report(active bool) {
	if g.guarded != nil {
		g.guarded(GuardMassRemoval, g.key, active)
	}
}
