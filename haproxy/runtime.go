package haproxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrRuntimeRejected marks a runtime API command that HAProxy refused.
var ErrRuntimeRejected = errors.New("haproxy rejected command")

// runtimeDialRetry is how long a refused or absent runtime socket is retried.
const runtimeDialRetry = 500 * time.Millisecond

// runtimeTimeout bounds one runtime API exchange when ctx has no deadline.
// A reply takes well under a millisecond (show servers state of 10,000
// servers, tens of ms): a socket that says nothing for 2s is stuck, and
// the sidecar's loop should not wait on it longer.
const runtimeTimeout = 2 * time.Second

// Runtime is a client of HAProxy's runtime API (`stats socket PATH level admin`).
type Runtime struct {
	// Path is the stats socket's file.
	Path string
	// Prefix goes before every command: "@1 " sends them through the
	// master CLI (Path is then the master socket) to the current worker.
	Prefix string
}

// Command sends one command to the runtime API and returns HAProxy's raw reply.
func (r *Runtime) Command(ctx context.Context, cmd string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, runtimeTimeout)
		defer cancel()
	}
	// Right after a reload the new worker may not have bound the socket yet.
	reply, err := exchange(ctx, r.Path, r.Prefix+cmd, runtimeDialRetry)
	if err != nil {
		return reply, fmt.Errorf("runtime api: %w", err)
	}
	return reply, nil
}

// SetServerAddr points backend/server at addr and, when port > 0, at port.
func (r *Runtime) SetServerAddr(ctx context.Context, backend, server, addr string, port int) error {
	if err := errors.Join(checkName(backend, server), CheckWords(addr)); err != nil {
		return fmt.Errorf("set server %s/%s addr: %w", backend, server, err)
	}
	cmd := fmt.Sprintf("set server %s/%s addr %s", backend, server, addr)
	if port > 0 {
		cmd += fmt.Sprintf(" port %d", port)
	}
	return r.run(ctx, cmd)
}

// SetServerState sets backend/server's admin state: "ready", "maint" or "drain".
func (r *Runtime) SetServerState(ctx context.Context, backend, server, state string) error {
	switch state {
	case "ready", "maint", "drain":
	default:
		return fmt.Errorf("set server %s/%s state: invalid state %q", backend, server, state)
	}
	if err := checkName(backend, server); err != nil {
		return fmt.Errorf("set server state: %w", err)
	}
	return r.run(ctx, fmt.Sprintf("set server %s/%s state %s", backend, server, state))
}

// SetServerWeight sets backend/server's weight (0-256).
func (r *Runtime) SetServerWeight(ctx context.Context, backend, server string, weight int) error {
	if err := checkName(backend, server); err != nil {
		return fmt.Errorf("set server weight: %w", err)
	}
	return r.run(ctx, fmt.Sprintf("set server %s/%s weight %d", backend, server, weight))
}

// run sends cmd and turns any reply that is not a known success into an error.
func (r *Runtime) run(ctx context.Context, cmd string) error {
	reply, err := r.Command(ctx, cmd)
	if err != nil {
		return err
	}
	if !RuntimeReplyOK(reply) {
		return fmt.Errorf("%s on %s: %w: %s", cmd, r.Path, ErrRuntimeRejected, strings.TrimSpace(reply))
	}
	return nil
}

// RuntimeReplyOK reports whether a reply to a set command means success:
// empty, or one of HAProxy's "IP changed from..." style notices.
func RuntimeReplyOK(reply string) bool {
	reply = strings.TrimSpace(reply)
	if reply == "" {
		return true
	}
	if strings.Contains(reply, "\n") {
		return false
	}
	// The notices of `set server ... addr` (2.6 and 3.0 spellings).
	for _, p := range [...]string{
		"IP changed from",
		"port changed from",
		"no need to change the addr",
		"no need to change the port",
		"nothing changed",
	} {
		if strings.HasPrefix(reply, p) {
			return true
		}
	}
	return false
}

// Version asks HAProxy for its version with `show info`.
func (r *Runtime) Version(ctx context.Context) (major, minor int, err error) {
	reply, err := r.Command(ctx, "show info")
	if err != nil {
		return 0, 0, err
	}
	return parseInfoVersion(reply)
}

// parseInfoVersion reads "Version: 2.6.12-1+deb12u4" from `show info`.
func parseInfoVersion(info string) (major, minor int, err error) {
	for _, line := range strings.Split(info, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "Version:")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		// Digits only: Sscanf's %d also took "-1.+2" as version -1.2.
		major, rest, ok1 := leadingNumber(v)
		minor, _, ok2 := leadingNumber(strings.TrimPrefix(rest, "."))
		if !ok1 || !ok2 || !strings.HasPrefix(rest, ".") {
			return 0, 0, fmt.Errorf("show info: version %q: want MAJOR.MINOR", v)
		}
		return major, minor, nil
	}
	return 0, 0, fmt.Errorf("show info: no Version line")
}

// leadingNumber reads the decimal digits that start s.
func leadingNumber(s string) (n int, rest string, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil {
		return 0, s, false
	}
	return n, s[i:], true
}
