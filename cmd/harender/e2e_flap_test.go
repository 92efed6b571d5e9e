package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
)

// TestRunFlapUnderLoad is the flap run of issue 6: one of four instances,
// busy on keep-alive connections, fails and passes its Consul check every
// 2s for 30s under wrk. Every return must be served within 3s of Consul
// seeing it pass (typically 150ms; a return that HAProxy's own check took
// down first also waits for that check to pass, on a machine wrk keeps
// busy), with no failed request and no reload.
func TestRunFlapUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a 30s load run per HAProxy version")
	}
	testenv.Require(t, "wrk", os.Getenv("WRK_BIN"), "wrk")
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		consul, gws := startGateways(t, 4)
		s, _ := runSetup(t, consul.Addr, bin, "")
		r, url := startServing(t, s, 4)
		master := &haproxy.Master{Path: s.master}
		reloadsBefore := r.metric(t, okReloads)
		procsBefore, err := master.ShowProc(t.Context())
		if err != nil {
			t.Fatal(err)
		}

		flapper := gws[3]
		obs := watchFlap(t, consul, &haproxy.Runtime{Path: s.runtime}, url, flapper.ID)
		// Each answer takes 10ms, so that requests are in flight on every
		// instance when it fails, and wrk leaves some CPU to the rest.
		const duration = 30 * time.Second
		wrk := testenv.StartWrk(t, "-t2", "-c32", fmt.Sprintf("-d%ds", int(duration.Seconds())), "--latency", url+"?delay=10ms")
		start := time.Now()
		var flips []time.Time // when the flapper was made to pass again
		var held []*heldRequest
		for i, at := 0, time.Second; at+4*time.Second <= duration; i, at = i+1, at+4*time.Second {
			if i%2 == 0 {
				// A request in flight from before the failure until
				// after the return: HAProxy cannot delete the server,
				// which returns from maintenance. On the other flips
				// it is deleted and added again.
				time.Sleep(time.Until(start.Add(at - time.Second)))
				held = append(held, holdRequest(t, r, &haproxy.Runtime{Path: s.runtime}, url, 4*time.Second, flapper))
			}
			time.Sleep(time.Until(start.Add(at)))
			flapper.SetHealthy(false)
			time.Sleep(2 * time.Second)
			flapper.SetHealthy(true)
			flips = append(flips, time.Now())
		}
		ctx, cancel := context.WithTimeout(t.Context(), duration+30*time.Second)
		defer cancel()
		res, err := wrk.Wait(ctx)
		time.Sleep(500 * time.Millisecond) // let the observer see the last return settle
		events := obs.stop()
		if err != nil {
			t.Fatal(err)
		}
		var heldFailed []string
		for _, h := range held {
			if err := h.wait(); err != nil {
				heldFailed = append(heldFailed, err.Error())
			}
		}
		rs := flapReturns(events, flips)
		reloads := r.metric(t, okReloads) - reloadsBefore
		procsAfter, err := master.ShowProc(t.Context())
		if err != nil {
			t.Fatal(err)
		}

		t.Logf("flap run, %s:\n%s\n  wrk: %s\n  held requests: %d, failed: %d\n  reloads: %.0f confirmed by harender, %d by show proc (%d failed)",
			testenv.HAProxyVersion(bin), rs, res, len(held), len(heldFailed), reloads,
			procsAfter.Master.Reloads-procsBefore.Master.Reloads, procsAfter.Master.Failed)
		if len(rs.returns) != len(flips) {
			t.Errorf("Consul saw %d returns for %d flips", len(rs.returns), len(flips))
		}
		for i, ret := range rs.returns {
			if ret.served.IsZero() || ret.served.Sub(ret.passing) > 3*time.Second {
				t.Errorf("return %d: %s; want served within 3s of Consul seeing it pass", i+1, ret)
			}
		}
		if res.Requests == 0 || res.Failed() > 0 {
			t.Errorf("wrk: %s; want requests and none failed", res)
		}
		if heldFailed != nil {
			t.Errorf("held requests failed: %s", strings.Join(heldFailed, "; "))
		}
		if reloads != 0 || procsAfter.Master.Reloads != procsBefore.Master.Reloads {
			t.Errorf("%.0f reloads (show proc: %d), want none", reloads, procsAfter.Master.Reloads-procsBefore.Master.Reloads)
		}
		if t.Failed() {
			t.Logf("events:\n%s\nharender on %s:\n%s", events, flapper.ID, logLines(r.Logs(), flapper.ID, "reload"))
		}
	})
}

// flapEvent is one change the flap observer saw.
type flapEvent struct {
	at   time.Time
	kind string // one of the flap* kinds
	note string // the server's state, for haproxy events
}

// Kinds of flapEvent.
const (
	flapPassing  = "consul passing"
	flapCritical = "consul critical"
	flapIn       = "haproxy in"  // present, not in maintenance, up
	flapOut      = "haproxy out" // absent, in maintenance, or down
	flapServed   = "served"      // the first answer through HAProxy after a pass
)

type flapEvents []flapEvent

func (es flapEvents) String() string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "  %s %-15s %s\n", e.at.Format("15:04:05.000"), e.kind, e.note)
	}
	return b.String()
}

// flapObserver polls, every 20ms, Consul's status of one instance's check,
// HAProxy's state of its server, and, after each pass, HAProxy's answers,
// until one comes from the instance.
type flapObserver struct {
	cancel context.CancelFunc
	done   chan flapEvents
}

func watchFlap(t *testing.T, consul *testenv.Consul, rt *haproxy.Runtime, url, id string) *flapObserver {
	ctx, cancel := context.WithCancel(t.Context())
	o := &flapObserver{cancel: cancel, done: make(chan flapEvents, 1)}
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	want := "hello from " + id
	go func() {
		var events flapEvents
		passing, in, served := true, true, true // as it was when the observer started
		last := "in service"                    // HAProxy's state of the server at the last poll
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				o.done <- events
				return
			case <-tick.C:
			}
			if p, ok := consulPassing(ctx, consul, id); ok && p != passing {
				passing, served = p, !p
				kind := flapCritical
				if p {
					kind = flapPassing
				}
				events = append(events, flapEvent{at: time.Now(), kind: kind, note: "haproxy had " + last})
			}
			if obs, err := rt.ServersState(ctx); err == nil {
				s := obs.Find("gateway", id)
				last = stateLine(s)
				if now := s != nil && s.AdminState == 0 && s.OpState == 2; now != in {
					in = now
					kind := flapOut
					if now {
						kind = flapIn
					}
					events = append(events, flapEvent{at: time.Now(), kind: kind, note: stateLine(s)})
				}
			}
			if passing && !served {
				for range 12 { // round robin over 4, with wrk in between
					if ans, err := testenv.Get(c, url); err == nil && ans == want {
						served = true
						events = append(events, flapEvent{at: time.Now(), kind: flapServed})
						break
					}
				}
			}
		}
	}()
	return o
}

// stop stops the observer and returns what it saw.
func (o *flapObserver) stop() flapEvents {
	o.cancel()
	return <-o.done
}

// consulPassing is whether Consul's catalog has id's check passing; ok is
// false when Consul did not answer or has no such check.
func consulPassing(ctx context.Context, consul *testenv.Consul, id string) (passing, ok bool) {
	checks, _, err := consul.Client.Health().Checks("gateway", (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return false, false
	}
	for _, c := range checks {
		if c.ServiceID == id {
			return c.Status == api.HealthPassing, true
		}
	}
	return false, false
}

// flapReturn is one return of the flapping instance.
type flapReturn struct {
	flipped time.Time // its check was made to pass
	passing time.Time // Consul saw it pass
	in      time.Time // HAProxy had it up, zero if never before the next failure
	served  time.Time // HAProxy answered from it, zero if never
	from    string    // HAProxy's state of it when Consul saw it pass
}

func (r flapReturn) String() string {
	s := fmt.Sprintf("Consul saw it pass %s after the flip", r.passing.Sub(r.flipped).Round(time.Millisecond))
	if r.in.IsZero() {
		s += "; never up in show servers state"
	} else {
		// Polled every 20ms, and before the answers: it may be seen
		// up only after the first answer.
		s += fmt.Sprintf("; up in show servers state after %s", r.in.Sub(r.passing).Round(time.Millisecond))
	}
	if r.served.IsZero() {
		return s + "; never served before its next failure (" + r.from + ")"
	}
	return s + fmt.Sprintf("; served after %s (%s)", r.served.Sub(r.passing).Round(time.Millisecond), r.from)
}

type flapSummary struct {
	returns []flapReturn
	leaves  []time.Duration // Consul critical to HAProxy out
	early   int             // failures HAProxy's own check took out before Consul saw them
}

// flapReturns pairs each flip with what followed it: Consul's pass,
// HAProxy's state, the first answer, until Consul saw the next failure.
func flapReturns(events flapEvents, flips []time.Time) flapSummary {
	var sum flapSummary
	in := true
	for i, e := range events {
		switch e.kind {
		case flapIn, flapOut:
			in = e.kind == flapIn
		case flapCritical:
			if !in {
				sum.early++
				continue
			}
			for _, f := range events[i+1:] {
				if f.kind == flapOut {
					sum.leaves = append(sum.leaves, f.at.Sub(e.at))
					break
				}
				if f.kind == flapPassing {
					break
				}
			}
		case flapPassing:
			r := flapReturn{passing: e.at, from: e.note}
			for _, fl := range flips {
				if fl.Before(e.at) {
					r.flipped = fl
				}
			}
		next:
			for _, f := range events[i+1:] {
				switch {
				case f.kind == flapIn && r.in.IsZero():
					r.in = f.at
				case f.kind == flapServed:
					r.served = f.at
				case f.kind == flapCritical:
					break next
				}
			}
			sum.returns = append(sum.returns, r)
		}
	}
	return sum
}

func (s flapSummary) String() string {
	var b strings.Builder
	var served []time.Duration
	for i, r := range s.returns {
		fmt.Fprintf(&b, "  return %d: %s\n", i+1, r)
		if !r.served.IsZero() {
			served = append(served, r.served.Sub(r.passing))
		}
	}
	var maint, added int
	for _, r := range s.returns {
		switch {
		case strings.Contains(r.from, "no such server"):
			added++
		case strings.Contains(r.from, "admin_state 0x1 "):
			maint++
		}
	}
	mean, maxd := meanMax(served)
	fmt.Fprintf(&b, "  returns: %d (%d from maintenance, %d added again, %d never removed), served: %d; Consul pass to served: mean %s, max %s\n",
		len(s.returns), maint, added, len(s.returns)-maint-added, len(served), mean, maxd)
	mean, maxd = meanMax(s.leaves)
	fmt.Fprintf(&b, "  failures: %d out of HAProxy's rotation after Consul saw them critical (mean %s, max %s), %d before (HAProxy's own check)",
		len(s.leaves), mean, maxd, s.early)
	return b.String()
}

func meanMax(ds []time.Duration) (mean, maxd time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
		maxd = max(maxd, d)
	}
	return (sum / time.Duration(len(ds))).Round(time.Millisecond), maxd.Round(time.Millisecond)
}
