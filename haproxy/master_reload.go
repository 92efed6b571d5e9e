package haproxy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrReloadFailed marks a reload that HAProxy reports as failed.
var ErrReloadFailed = errors.New("reload failed")

// ErrReloadUnconfirmed marks a reload whose outcome could not be observed in time.
var ErrReloadUnconfirmed = errors.New("reload unconfirmed")

// ErrReloadInProgress marks a reload the master turned down because a
// worker is still starting (3.1+: "Another reload is still in progress."):
// nothing was loaded or refused; try again shortly.
var ErrReloadInProgress = errors.New("another reload is still in progress")

// Default bound on confirming a reload when ctx has no deadline.
const defaultReloadTimeout = 10 * time.Second

// How often show proc is polled while confirming a 2.6-style reload.
const reloadPollInterval = 20 * time.Millisecond

// ReloadResult describes a reload and how it was confirmed.
type ReloadResult struct {
	Before   Procs  // show proc before the reload
	After    Procs  // show proc after it (zero when it could not be read)
	Messages string // startup messages from a 2.7+ reply; empty on 2.6
	Sync     bool   // true when HAProxy answered Success= (2.7+), false when confirmed by show proc (2.6)
}

// Reload reloads HAProxy through the master CLI and confirms the outcome.
// On 2.7+ it trusts the synchronous Success= reply; on 2.6, which answers
// nothing, it polls show proc until the master's reload counter moves.
// A failure wraps ErrReloadFailed; no verdict in time wraps ErrReloadUnconfirmed.
func (m *Master) Reload(ctx context.Context) (ReloadResult, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultReloadTimeout)
		defer cancel()
	}
	var res ReloadResult
	before, err := m.ShowProc(ctx)
	if err != nil {
		return res, fmt.Errorf("reload: %w", err)
	}
	res.Before = before
	reply, err := m.Command(ctx, "reload")
	if err != nil && errors.Is(err, ErrSocket) {
		return res, fmt.Errorf("reload: %w", err)
	}
	// A read error after the command went out is treated like 2.6's empty
	// answer: the master may have re-executed under us; show proc decides.
	ok, supported, msgs, perr := ParseReloadReply(reply)
	if err == nil && perr != nil {
		return res, fmt.Errorf("reload on %s: %w", m.Path, perr)
	}
	if err == nil && supported {
		res.Sync, res.Messages = true, msgs
		if !ok && msgs == "Another reload is still in progress." {
			return res, fmt.Errorf("reload on %s: %w", m.Path, ErrReloadInProgress)
		}
		if !ok {
			return res, fmt.Errorf("%w on %s (Success=0):\n%s", ErrReloadFailed, m.Path, msgs)
		}
		if after, aerr := m.ShowProc(ctx); aerr == nil {
			res.After = after
		}
		return res, nil
	}
	after, err := m.awaitReload(ctx, before)
	res.After = after
	return res, err
}

// awaitReload polls show proc until the master has reloaded past before,
// then judges the outcome from the failed counter and the workers.
func (m *Master) awaitReload(ctx context.Context, before Procs) (Procs, error) {
	var lastErr error
	for {
		after, err := m.ShowProc(ctx)
		if err == nil && after.Master.Reloads > before.Master.Reloads {
			return after, judgeReload(m.Path, before, after)
		}
		if err != nil {
			lastErr = err
		} else {
			lastErr = fmt.Errorf("reload counter still %d", after.Master.Reloads)
		}
		if err := sleepCtx(ctx, reloadPollInterval); err != nil {
			return Procs{}, fmt.Errorf("%w on %s: %w (last: %w)", ErrReloadUnconfirmed, m.Path, err, lastErr)
		}
	}
}

// judgeReload decides from two show proc tables whether a reload succeeded:
// the failed counter must not have gone up and a new worker must exist.
func judgeReload(path string, before, after Procs) error {
	counters := fmt.Sprintf("reloads %d->%d, failed %d->%d",
		before.Master.Reloads, after.Master.Reloads, before.Master.Failed, after.Master.Failed)
	if after.Master.HasFailed && after.Master.Failed > before.Master.Failed {
		return fmt.Errorf("%w on %s: %s", ErrReloadFailed, path, counters)
	}
	if len(after.Workers) == 0 {
		return fmt.Errorf("%w on %s: no worker after reload (%s)", ErrReloadFailed, path, counters)
	}
	old := make([]int, 0, len(before.Workers))
	for _, w := range before.Workers {
		old = append(old, w.PID)
	}
	for _, w := range after.Workers {
		if !slices.Contains(old, w.PID) {
			return nil
		}
	}
	return fmt.Errorf("%w on %s: no new worker forked (%s)", ErrReloadFailed, path, counters)
}

// ParseReloadReply parses the master CLI's answer to `reload`.
// supported is false for an empty reply (HAProxy 2.6, which answers nothing);
// otherwise ok reports Success=1 and messages holds the startup messages after "--".
func ParseReloadReply(s string) (ok, supported bool, messages string, err error) {
	if strings.TrimSpace(s) == "" {
		return false, false, "", nil
	}
	head, rest, _ := strings.Cut(s, "\n")
	head = strings.TrimSpace(head)
	switch head {
	case "Success=1":
		ok = true
	case "Success=0":
		ok = false
	default:
		return false, false, "", fmt.Errorf("unexpected reload reply %q", firstLine(s))
	}
	if sep, body, found := strings.Cut(rest, "\n"); found && strings.TrimSpace(sep) == "--" {
		rest = body
	} else if strings.TrimSpace(rest) == "--" {
		rest = ""
	}
	return ok, true, strings.TrimSpace(rest), nil
}

// firstLine returns s up to its first newline, capped for error messages.
func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	if len(l) > 200 {
		l = l[:200]
	}
	return l
}
