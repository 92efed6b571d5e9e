package main

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// warmup is the load before the first event; tail the load after the last.
const warmup, tail = 2 * time.Second, 3 * time.Second

// scenario is a sequence of events made under load.
type scenario struct {
	name string
	// extra instances started (serving, not joined) beside the 3 stable ones.
	churners int
	length   func(o *options) time.Duration // from the first event to the last
	run      func(e *env, r *recorder) error
}

var scenarios = map[string]scenario{
	// churn: 2 instances join and leave in turn, one event every interval:
	// join gw-4, join gw-5, leave gw-4, leave gw-5, ... With -kv-every K,
	// every K-th event is followed, half an interval later, by a write of
	// the KV key bench/rev that the template reads (a reload).
	"churn": {name: "churn", churners: 2,
		length: func(o *options) time.Duration { return time.Duration(o.events) * o.interval },
		run: func(e *env, r *recorder) error {
			ch := e.insts[3:5]
			for i := range e.o.events {
				r.sleepUntil(time.Duration(i) * e.o.interval)
				in := ch[i%2]
				var err error
				if (i/2)%2 == 0 {
					r.record("up", in.id, false)
					err = e.src.join(in)
				} else {
					r.record("down", in.id, false)
					err = e.src.leave(in)
				}
				if err != nil {
					return fmt.Errorf("event %d (%s): %w", i, in.id, err)
				}
				if err := kvEvent(e, r, i); err != nil {
					return err
				}
			}
			return nil
		}},
	// mixed: the kinds of membership event a catalog sees, in turn, one
	// every interval, on gw-4 and gw-5 (Consul only): gw-4 joins, gw-5
	// joins, gw-4's check fails (maintenance on), gw-5's weight goes to 5,
	// gw-4's check passes (maintenance off), gw-5's weight goes back to 1,
	// gw-4 leaves, gw-5 leaves, and again. -kv-every as in churn.
	"mixed": {name: "mixed", churners: 2,
		length: func(o *options) time.Duration { return time.Duration(o.events) * o.interval },
		run: func(e *env, r *recorder) error {
			cs, ok := e.src.(*consulSource)
			if !ok {
				return fmt.Errorf("the mixed scenario needs a Consul stack")
			}
			gw4, gw5 := e.insts[3], e.insts[4]
			steps := []struct {
				kind string
				in   *instance
				do   func() error
			}{
				{"up", gw4, func() error { return cs.join(gw4) }},
				{"up", gw5, func() error { return cs.join(gw5) }},
				{"down", gw4, func() error { return cs.maintenance(gw4, true) }},
				{"weight", gw5, func() error { return cs.register(gw5, 5) }},
				{"up", gw4, func() error { return cs.maintenance(gw4, false) }},
				{"weight", gw5, func() error { return cs.register(gw5, 1) }},
				{"down", gw4, func() error { return cs.leave(gw4) }},
				{"down", gw5, func() error { return cs.leave(gw5) }},
			}
			for i := range e.o.events {
				r.sleepUntil(time.Duration(i) * e.o.interval)
				st := steps[i%len(steps)]
				r.record(st.kind, st.in.id, false)
				if err := st.do(); err != nil {
					return fmt.Errorf("event %d (%s %s): %w", i, st.kind, st.in.id, err)
				}
				if err := kvEvent(e, r, i); err != nil {
					return err
				}
			}
			return nil
		}},
	// steady: the same load and length as churn, with no event: the
	// baseline that churn's throughput is compared with.
	"steady": {name: "steady", churners: 2,
		length: func(o *options) time.Duration { return time.Duration(o.events) * o.interval },
		run: func(e *env, r *recorder) error {
			r.sleepUntil(time.Duration(e.o.events) * e.o.interval)
			return nil
		}},
	// kill: kill -9 of gw-3 (with the Serf source, of its agent too), and
	// the same instance started again killFor later; 5 s more to see it back.
	"kill": {name: "kill",
		length: func(o *options) time.Duration { return o.killFor + 5*time.Second },
		run: func(e *env, r *recorder) error {
			in := e.insts[2]
			r.sleepUntil(0) // after the warm-up, as every scenario's first event
			r.record("down", in.id, true)
			e.crash(in)
			r.sleepUntil(e.o.killFor)
			r.record("up", in.id, false)
			return e.restart(in)
		}},
	// flap: gw-3's health check fails, then passes, every 2 s.
	"flap": {name: "flap",
		length: func(o *options) time.Duration { return time.Duration(o.flaps-1) * 2 * time.Second },
		run: func(e *env, r *recorder) error {
			in := e.insts[2]
			for i := range e.o.flaps {
				r.sleepUntil(time.Duration(i) * 2 * time.Second)
				ok := i%2 == 1
				kind := "down"
				if ok {
					kind = "up"
				}
				r.record(kind, in.id, false)
				if err := e.setHealth(in, ok); err != nil {
					return err
				}
			}
			return nil
		}},
}

// kvEvent writes the KV key bench/rev half an interval after every
// -kv-every-th event (the i-th counted from 0): a change that reloads.
func kvEvent(e *env, r *recorder, i int) error {
	k := e.o.kvEvery
	if k <= 0 || (i+1)%k != 0 {
		return nil
	}
	r.sleepUntil(time.Duration(i)*e.o.interval + e.o.interval/2)
	v := strconv.Itoa((i + 1) / k)
	r.record("kv", v, false)
	if _, err := e.consul.KV().Put(&api.KVPair{Key: "bench/rev", Value: []byte(v)}, nil); err != nil {
		return fmt.Errorf("kv write %s: %w", v, err)
	}
	return nil
}

// recorder stamps events with the time since the load started; the first
// event comes warmup after that.
type recorder struct {
	mu     sync.Mutex
	start  time.Time
	events []event
}

func (r *recorder) sleepUntil(sinceFirst time.Duration) {
	time.Sleep(time.Until(r.start.Add(warmup + sinceFirst)))
}

// record notes an event now, just before the action that makes it.
func (r *recorder) record(kind, inst string, failures bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{At: time.Since(r.start), Inst: inst, Kind: kind, Failures: failures})
}
