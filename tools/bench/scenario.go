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
				if k := e.o.kvEvery; k > 0 && (i+1)%k == 0 {
					r.sleepUntil(time.Duration(i)*e.o.interval + e.o.interval/2)
					v := strconv.Itoa((i + 1) / k)
					r.record("kv", v, false)
					if _, err := e.consul.KV().Put(&api.KVPair{Key: "bench/rev", Value: []byte(v)}, nil); err != nil {
						return fmt.Errorf("kv write %s: %w", v, err)
					}
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
