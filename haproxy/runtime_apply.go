package haproxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Apply makes the server updates of a Plan through the runtime API. A server
// being disabled goes to maint first; one being enabled goes ready last, after
// its address and weight are set. It stops at the first error.
func (r *Runtime) Apply(ctx context.Context, ups []ServerUpdate) error {
	for _, u := range ups {
		if u.StateChanged && u.State != "ready" {
			if err := r.SetServerState(ctx, u.Backend, u.Server, u.State); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
		}
		if u.AddrChanged {
			if err := r.SetServerAddr(ctx, u.Backend, u.Server, u.Addr, u.Port); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
		}
		if u.WeightChanged {
			if err := r.SetServerWeight(ctx, u.Backend, u.Server, u.Weight); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
		}
		if u.StateChanged && u.State == "ready" {
			if err := r.SetServerState(ctx, u.Backend, u.Server, u.State); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
		}
	}
	return nil
}

// delServerWait bounds how long a removed server may take to finish the
// requests it is serving before `del server` accepts it.
const delServerWait = 3 * time.Second

// ErrNeedsReload marks a runtime change this HAProxy cannot make safely.
var ErrNeedsReload = errors.New("needs a reload")

func moves(ups []ServerUpdate) bool {
	for _, u := range ups {
		if u.AddrChanged {
			return true
		}
	}
	return false
}

// ErrServerBusy marks a removed server that still had connections when
// delServerWait ran out: it stays in maintenance, taking no traffic, until
// the next reload drops it.
var ErrServerBusy = errors.New("server still has connections")

// ApplyChange makes a runtime-only Change: server updates, then new
// servers, then removals, so that capacity is added before it is taken
// away. A removed server goes to maintenance first and is deleted once its
// last request has finished. It stops at the first error; the caller then
// reloads, which makes HAProxy match the file whatever was applied. Removed
// servers that are still busy are returned, not treated as failures.
func (r *Runtime) ApplyChange(ctx context.Context, c Change) (busy []ServerDel, err error) {
	if c.Reload {
		return nil, fmt.Errorf("apply: change needs a reload: %s", c.Reason)
	}
	if moves(c.Servers) {
		// Before 3.0, HAProxy keeps reusing pooled idle connections to a
		// moved server's old address (seen on 2.6: 2 changes in 120 never
		// reached clients); only a reload is sure to move it.
		major, _, err := r.Version(ctx)
		if err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		if major < 3 {
			return nil, fmt.Errorf("apply: %w: a server address change on HAProxy %d.x", ErrNeedsReload, major)
		}
	}
	if err := r.Apply(ctx, c.Servers); err != nil {
		return nil, err
	}
	for _, a := range c.Adds {
		if err := r.AddServer(ctx, a); err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
	}
	for _, d := range c.Deletes {
		err := r.DelServer(ctx, d)
		if errors.Is(err, ErrServerBusy) {
			busy = append(busy, d)
			continue
		}
		if err != nil {
			return busy, fmt.Errorf("apply: %w", err)
		}
	}
	return busy, nil
}

// AddServer creates a server with `add server`, then enables it and its
// health checks unless it is to stay disabled.
func (r *Runtime) AddServer(ctx context.Context, a ServerAdd) error {
	cmd := addServerCommand(a)
	reply, err := r.Command(ctx, cmd)
	if err != nil {
		return err
	}
	if !strings.Contains(reply, "New server registered") {
		return fmt.Errorf("%s on %s: %w: %s", cmd, r.Path, ErrRuntimeRejected, strings.TrimSpace(reply))
	}
	name := a.Backend + "/" + a.Server
	if a.Check {
		if err := r.run(ctx, "enable health "+name); err != nil {
			return err
		}
	}
	if !a.Disabled {
		return r.run(ctx, "enable server "+name)
	}
	return nil
}

// DelServer puts a server in maintenance, so it takes no new request, and
// deletes it once the requests it serves have finished.
func (r *Runtime) DelServer(ctx context.Context, d ServerDel) error {
	name := d.Backend + "/" + d.Server
	if err := r.run(ctx, "disable server "+name); err != nil {
		return err
	}
	deadline := time.Now().Add(delServerWait)
	for {
		reply, err := r.Command(ctx, "del server "+name)
		if err != nil {
			return err
		}
		if strings.Contains(reply, "Server deleted") {
			return nil
		}
		if !strings.Contains(reply, "connections") {
			return fmt.Errorf("del server %s on %s: %w: %s", name, r.Path, ErrRuntimeRejected, strings.TrimSpace(reply))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("del server %s: %w", name, ErrServerBusy)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
