package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// event is one change the scenario made, at a moment measured from the
// start of the run: an instance that should start serving (up) or stop
// (down), or a structural change (kv) whose value the proxy echoes.
type event struct {
	At   time.Duration
	Inst string // instance id, or the KV value for kind "kv"
	Kind string // "up", "down" or "kv"
	// Failures: a down event whose failed probes count as served by the
	// removed instance (kill -9: a request that fails is one still sent there).
	Failures bool
}

// probe is one request of the probe client: when it was sent and answered,
// which instance answered ("" when it failed), and the X-Bench-Rev header.
type probe struct {
	Sent, Recv time.Duration
	Inst       string
	Rev        string
	OK         bool
}

// latency is how long one event took to show in the probes; Missed when it
// never showed before the instance's next event (or the end of the run).
type latency struct {
	Kind    string
	D       time.Duration
	Missed  bool
	Skipped bool // a down event of an instance that was not being served
}

// servedBefore reports whether e's instance answered a probe between its
// previous event (or the start) and e; probes must end before e.
func servedBefore(earlier []event, e event, probes []probe) bool {
	var since time.Duration
	for i := len(earlier) - 1; i >= 0; i-- {
		if earlier[i].Inst == e.Inst {
			since = earlier[i].At
			break
		}
	}
	for i := len(probes) - 1; i >= 0 && probes[i].Recv >= since; i-- {
		if probes[i].OK && probes[i].Inst == e.Inst {
			return true
		}
	}
	return false
}

// latencies measures every event against the probes, which must be sorted
// by Recv. up: the first request served by the instance and sent after the
// event. down: the last request served by the instance (or, with Failures,
// failed) after the event, 0 when there was none. kv: the first request that
// carried the new value. The window of an event ends at the next event of the
// same instance (kv: the next kv event), or at end.
func latencies(events []event, probes []probe, end time.Duration) []latency {
	out := make([]latency, 0, len(events))
	for i, e := range events {
		until := end
		for _, n := range events[i+1:] {
			if n.Inst == e.Inst || (e.Kind == "kv" && n.Kind == "kv") {
				until = n.At
				break
			}
		}
		from := sort.Search(len(probes), func(j int) bool { return probes[j].Recv >= e.At })
		l := latency{Kind: e.Kind}
		switch e.Kind {
		case "up", "kv":
			l.Missed = true
			for _, p := range probes[from:] {
				if p.Recv >= until {
					break
				}
				if p.Sent < e.At || !p.OK {
					continue
				}
				if (e.Kind == "up" && p.Inst == e.Inst) || (e.Kind == "kv" && p.Rev == e.Inst) {
					l.D, l.Missed = p.Recv-e.At, false
					break
				}
			}
		case "down":
			if !servedBefore(events[:i], e, probes[:from]) {
				l.Skipped = true // it was not in: nothing to take out
				break
			}
			for _, p := range probes[from:] {
				if p.Recv >= until {
					break
				}
				if (p.OK && p.Inst == e.Inst) || (e.Failures && !p.OK) {
					l.D = p.Recv - e.At
				}
			}
		}
		out = append(out, l)
	}
	return out
}

// dist summarises the latencies of one kind.
type dist struct {
	N, Missed     int
	P50, P99, Max time.Duration
	Mean          time.Duration
	sorted        []time.Duration
}

func summarise(ls []latency, kind string) dist {
	var d dist
	var sum time.Duration
	for _, l := range ls {
		if l.Kind != kind || l.Skipped {
			continue
		}
		if l.Missed {
			d.Missed++
			continue
		}
		d.sorted = append(d.sorted, l.D)
		sum += l.D
	}
	sort.Slice(d.sorted, func(i, j int) bool { return d.sorted[i] < d.sorted[j] })
	d.N = len(d.sorted)
	if d.N > 0 {
		d.P50, d.P99 = percentile(d.sorted, 0.50), percentile(d.sorted, 0.99)
		d.Max, d.Mean = d.sorted[d.N-1], sum/time.Duration(d.N)
	}
	return d
}

// percentile is the nearest-rank percentile of sorted values: the smallest
// value with at least q of all values at or below it.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// cell prints a distribution as "p50 / p99 / max", in ms, with the events
// that never showed, or "—" when the run had none of this kind.
func (d dist) cell() string {
	if d.N == 0 && d.Missed == 0 {
		return "—"
	}
	s := "—"
	if d.N > 0 {
		s = fmt.Sprintf("%s / %s / %s", ms(d.P50), ms(d.P99), ms(d.Max))
	}
	if d.Missed > 0 {
		s += fmt.Sprintf(" (%d of %d never)", d.Missed, d.N+d.Missed)
	}
	return s
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond))
}

// result is one row of the table: one stack through one scenario.
type result struct {
	Stack, Scenario string
	Failed          int           // wrk: non-2xx/3xx + socket errors
	FailedDetail    string        // how they split
	Reloads         int           // -1: the stack does not reload (Fabio)
	Runtime         int           // runtime API updates; -1 when not counted
	CPU             time.Duration // the controller's CPU time over the run; -1: not measured
	ProbeFailed     int
	Up, Down, KV    dist
	Throughput      float64 // wrk requests per second
	Load            string  // the 1-minute load average at the end of the run
	Err             string  // the run failed: why
}

// table prints results as a markdown table.
func table(rs []result, withKV bool) string {
	var b strings.Builder
	head := "| stack | scenario | failed requests | reloads | runtime updates | up: event → first served, p50 / p99 / max ms | down: event → last served, p50 / p99 / max ms |"
	rule := "|---|---|---:|---:|---:|---|---|"
	if withKV {
		head += " KV write → served, p50 / p99 / max ms |"
		rule += "---|"
	}
	b.WriteString(head + " controller CPU, s | throughput, req/s | load |\n" + rule + "---:|---:|---:|\n")
	for _, r := range rs {
		if r.Err != "" {
			fmt.Fprintf(&b, "| %s | %s | run failed: %s |\n", r.Stack, r.Scenario, strings.ReplaceAll(r.Err, "|", "/"))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %d%s | %s | %s | %s | %s |", r.Stack, r.Scenario, r.Failed, r.FailedDetail,
			count(r.Reloads), count(r.Runtime), r.Up.cell(), r.Down.cell())
		if withKV {
			fmt.Fprintf(&b, " %s |", r.KV.cell())
		}
		cpu := "—"
		if r.CPU >= 0 {
			cpu = fmt.Sprintf("%.2f", r.CPU.Seconds())
		}
		fmt.Fprintf(&b, " %s | %.0f | %s |\n", cpu, r.Throughput, r.Load)
	}
	return b.String()
}

func count(n int) string {
	if n < 0 {
		return "—"
	}
	return fmt.Sprint(n)
}
