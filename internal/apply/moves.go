package apply

import (
	"context"
	"fmt"
	"time"

	"github.com/harender/harender/haproxy"
)

// On HAProxy 2.x, `set server addr` leaves the server's idle connections
// to the old address in its pool, and requests keep reusing them (seen on
// 2.6: half the requests still reached the old address 1.5 s after the
// move). A maintenance that lasts one command does not empty the pool
// either. So a move drains first: the server goes into maintenance (the
// other servers take its requests, none is lost), and once HAProxy reports
// it with no connection in use and none idle, its address changes and it
// comes back. Measured on 2.6.12 under load, with pool-purge-delay 500ms:
// about 2.6 s from maintenance to an empty pool.

// moveDrainLimit is how long a move may wait for the server's
// connections before a reload does it instead.
const moveDrainLimit = 10 * time.Second

// moveDrainPoll is how often a draining move is looked at again.
const moveDrainPoll = 250 * time.Millisecond

// drainMoves rewrites the moves among steps for a release that cannot move
// a server at once (why says so): a server not yet in maintenance is put
// there, one that has drained gets its new address and comes back, one
// still draining waits. It returns a reload reason instead when a move
// cannot drain: the server is the only one up in its backend, its
// connections cannot be read, or it took longer than moveDrainLimit.
func (e *Engine) drainMoves(ctx context.Context, steps []haproxy.Step, obs *haproxy.ServersState, why string) ([]haproxy.Step, string) {
	now := e.clock.Now()
	hold := map[string]bool{} // servers whose other steps wait for the drain
	var out []haproxy.Step
	conns := map[string]map[string]haproxy.ServerConns{}
	for _, s := range steps {
		if s.Kind != haproxy.StepSetAddr {
			continue
		}
		o := obs.Find(s.Backend, s.Server)
		if o == nil {
			continue
		}
		started, moving := e.moving[s.Name()]
		switch {
		case !moving || !o.Maint():
			if !otherServerUp(obs, o) {
				return steps, fmt.Sprintf("%s on %s, the only server up in its backend", why, s.Name())
			}
			if !moving {
				e.moving[s.Name()] = now
				e.log.Info("moving server: in maintenance until its connections to the old address are gone",
					"server", s.Name(), "from", fmt.Sprintf("%s:%d", o.Addr, o.Port), "to", fmt.Sprintf("%s:%d", s.Addr, s.Port))
			}
			out = append(out, haproxy.Step{Kind: haproxy.StepSetState, Backend: s.Backend, Server: s.Server, State: "maint"})
			hold[s.Name()] = true
		default:
			c, ok := conns[s.Backend]
			if !ok {
				var err error
				if c, err = e.hap.ServerConns(ctx, s.Backend); err != nil {
					return steps, fmt.Sprintf("%s; its connections cannot be read: %v", why, err)
				}
				conns[s.Backend] = c
			}
			if n := c[s.Server]; n.Used == 0 && n.Idle == 0 {
				delete(e.moving, s.Name()) // drained: the address changes now
				continue
			}
			if now.Sub(started) > moveDrainLimit {
				delete(e.moving, s.Name())
				return steps, fmt.Sprintf("%s; %s still had connections after %s", why, s.Name(), moveDrainLimit)
			}
			hold[s.Name()] = true
		}
	}
	for _, s := range steps {
		if !hold[s.Name()] {
			out = append(out, s)
		}
	}
	if len(hold) > 0 {
		e.after(moveDrainPoll)
	}
	return out, ""
}

// otherServerUp reports whether o's backend has another server that is
// running and not in maintenance, to take o's requests while it drains.
func otherServerUp(obs *haproxy.ServersState, o *haproxy.ServerState) bool {
	for _, s := range obs.Servers {
		if s.Backend == o.Backend && s.Server != o.Server && s.OpState == 2 && s.AdminState == 0 {
			return true
		}
	}
	return false
}
