package haproxy

import (
	"context"
	"fmt"
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
