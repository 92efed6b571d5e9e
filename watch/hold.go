package watch

import (
	"reflect"
	"time"

	"github.com/hashicorp/consul/api"
)

// The hold rule keeps a Consul agent restart or a leader election from
// emptying templates (consul-template issues #1713 and #1131: right after
// a restart, health/service briefly answered [] and HAProxy lost every
// backend). A list answer that has fewer items than the data delivered for
// its dependency is suspect when it is empty, when Consul reports no known
// leader, or when it comes in the recovery window: after a failed request
// or an index that went backwards, until one answer that is not suspect.
// A suspect answer is held back; a later answer that is not suspect
// replaces it, and if suspect answers keep coming for the whole hold time
// the latest one is delivered, so that a real outage still shows.
//
// A dependency's first answer has nothing delivered to compare with. An
// empty one is suspect when it comes in the recovery window or without a
// known leader: harender started while its agent was restarting (a node
// reboot starts both), so its first requests failed and the agent then
// answered an empty catalog before its instances registered again; with
// HAProxy started on that render, every backend would be empty. A first
// empty answer from an agent that never failed and has a leader is
// delivered at once, so an ordinary start is not slowed down. A held first
// answer is not stored, so the dependency counts as not answered yet
// (Snapshot.Missing, Options.Once) until the hold ends.
//
// The rule can only see a restart that fails a request. One that happens
// entirely between two queries of a dependency (within MinInterval of an
// answer) looks like ordinary changes; a non-empty partial list from it is
// delivered, as any deregistration is.

// defaultHoldEmpty is Options.HoldEmpty when it is left at 0.
const defaultHoldEmpty = 5 * time.Second

// Why an answer is suspect.
const (
	suspectEmpty      = "empty"
	suspectRecovering = "recovering"
	suspectNoLeader   = "no_leader"
)

// suspectReason says why an answer of newLen items is suspect when prevLen
// items are delivered, or "" when it is not. A negative newLen means "not
// a list": such answers are never suspect. A negative prevLen with a list
// answer means nothing is delivered yet (a dependency always answers the
// same type): only an empty answer in the recovery window or without a
// known leader is suspect then.
func suspectReason(prevLen, newLen int, recovering, knownLeader bool) string {
	first := prevLen < 0
	switch {
	case newLen < 0:
		return ""
	case first && newLen > 0, !first && newLen >= prevLen:
		return ""
	case !first && newLen == 0:
		return suspectEmpty
	case recovering:
		return suspectRecovering
	case !knownLeader:
		return suspectNoLeader
	}
	return ""
}

// holdVerdict is what to do with one answer.
type holdVerdict int

const (
	deliverAnswer holdVerdict = iota // not suspect, nothing held: deliver
	replaceHeld                      // not suspect: deliver, drop the held one
	startHold                        // suspect: hold it back, the hold begins
	keepHolding                      // suspect: hold it back instead of the last one
	releaseHeld                      // suspect for the whole hold time: deliver
)

// deliver reports whether the answer goes to the templates (unless its
// content is unchanged).
func (v holdVerdict) deliver() bool {
	return v == deliverAnswer || v == replaceHeld || v == releaseHeld
}

// holdState is the hold rule for one dependency. It is pure: the poller
// feeds it every answer and the time.
//
// The same state holds back a mass removal (mass_removal.go): the poller
// asks judge with the longest hold any rule wants for an answer, so that
// one held answer has one clock, whichever rules flag it.
type holdState struct {
	hold  time.Duration // how long decide holds at most; <= 0 disables the rule
	since time.Time     // when the first held answer came; zero if none held
	limit time.Duration // the hold in force for the latest held answer
}

// holding reports whether an answer is held back.
func (h *holdState) holding() bool {
	return !h.since.IsZero()
}

// remaining is how long the current hold still runs at now; zero when
// nothing is held or the hold is over.
func (h *holdState) remaining(now time.Time) time.Duration {
	if !h.holding() {
		return 0
	}
	return max(h.limit-now.Sub(h.since), 0)
}

// decide judges an answer of newLen items that came at now, with prevLen
// items delivered (negative lengths: nothing delivered yet, or not a list;
// see suspectReason), recovering telling whether the answer is in the
// recovery window and knownLeader what Consul said of its leader. heldFor is how long an answer had been held when the
// verdict ends a hold.
func (h *holdState) decide(now time.Time, prevLen, newLen int, recovering, knownLeader bool) (v holdVerdict, heldFor time.Duration) {
	var limit time.Duration
	if suspectReason(prevLen, newLen, recovering, knownLeader) != "" {
		limit = h.hold
	}
	return h.judge(now, limit)
}

// judge is decide for an answer that some rule wants held for up to limit
// (measured from the first held answer); limit <= 0 means no rule does.
func (h *holdState) judge(now time.Time, limit time.Duration) (v holdVerdict, heldFor time.Duration) {
	suspect := limit > 0
	switch {
	case !suspect && !h.holding():
		return deliverAnswer, 0
	case !suspect:
		heldFor, h.since = now.Sub(h.since), time.Time{}
		return replaceHeld, heldFor
	case !h.holding():
		h.since, h.limit = now, limit
		return startHold, 0
	case now.Sub(h.since) >= limit:
		heldFor, h.since = now.Sub(h.since), time.Time{}
		return releaseHeld, heldFor
	default:
		h.limit = limit
		return keepHolding, now.Sub(h.since)
	}
}

// leaderKnown is what an answer says of the leader. Answers from the
// streaming backend (the default for health/service since Consul 1.10)
// always carry X-Consul-KnownLeader: false (hashicorp/consul#9776), so for
// them the header means nothing and the leader is taken as known.
func leaderKnown(meta *api.QueryMeta) bool {
	return meta.KnownLeader || meta.QueryBackend == api.QueryBackendStreaming
}

// listLen is the number of items of a list answer ([]*HealthService,
// []string, ...), or -1 when data is not a list.
func listLen(data any) int {
	v := reflect.ValueOf(data)
	if v.Kind() != reflect.Slice {
		return -1
	}
	return v.Len()
}
