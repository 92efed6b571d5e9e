package main

import (
	"strings"
	"testing"
	"time"
)

const msec = time.Millisecond

func TestPercentileNearestRank(t *testing.T) {
	var v []time.Duration
	for i := 1; i <= 100; i++ {
		v = append(v, time.Duration(i)*msec)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * msec}, {0.99, 99 * msec}, {1, 100 * msec}, {0.001, 1 * msec}} {
		if got := percentile(v, c.q); got != c.want {
			t.Errorf("percentile(1..100 ms, %v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := percentile([]time.Duration{7 * msec}, 0.99); got != 7*msec {
		t.Errorf("one value: p99 = %v, want 7ms", got)
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("no values: %v, want 0", got)
	}
	// Two values: p50 is the lower one, p99 the higher.
	two := []time.Duration{10 * msec, 20 * msec}
	if percentile(two, 0.5) != 10*msec || percentile(two, 0.99) != 20*msec {
		t.Errorf("two values: p50 %v p99 %v", percentile(two, 0.5), percentile(two, 0.99))
	}
}

func TestLatencies(t *testing.T) {
	events := []event{
		{At: 100 * msec, Inst: "gw-4", Kind: "up"},
		{At: 150 * msec, Inst: "gw-5", Kind: "up"}, // never served
		{At: 200 * msec, Inst: "gw-4", Kind: "down"},
		{At: 300 * msec, Inst: "gw-4", Kind: "up"},
		{At: 500 * msec, Inst: "gw-3", Kind: "down", Failures: true},
		{At: 600 * msec, Inst: "1", Kind: "kv"},
	}
	probes := []probe{
		{Sent: 90 * msec, Recv: 105 * msec, Inst: "gw-1", OK: true},
		{Sent: 95 * msec, Recv: 110 * msec, Inst: "gw-4", OK: true},  // sent before the event: not counted
		{Sent: 120 * msec, Recv: 130 * msec, Inst: "gw-4", OK: true}, // up gw-4: 30 ms
		{Sent: 205 * msec, Recv: 210 * msec, Inst: "gw-4", OK: true},
		{Sent: 240 * msec, Recv: 250 * msec, Inst: "gw-4", OK: true}, // down gw-4: 50 ms
		{Sent: 260 * msec, Recv: 270 * msec, OK: false},              // a failure, not a kill: not counted
		{Sent: 280 * msec, Recv: 290 * msec, Inst: "gw-1", OK: true},
		{Sent: 305 * msec, Recv: 312 * msec, Inst: "gw-4", OK: true}, // up gw-4 again: 12 ms
		{Sent: 480 * msec, Recv: 490 * msec, Inst: "gw-3", OK: true}, // gw-3 was in before the kill
		{Sent: 501 * msec, Recv: 504 * msec, Inst: "gw-3", OK: true},
		{Sent: 510 * msec, Recv: 540 * msec, OK: false}, // kill: the last failure, 40 ms
		{Sent: 601 * msec, Recv: 603 * msec, Inst: "gw-1", Rev: "0", OK: true},
		{Sent: 604 * msec, Recv: 625 * msec, Inst: "gw-2", Rev: "1", OK: true}, // kv: 25 ms
	}
	got := latencies(events, probes, time.Second)
	want := []latency{
		{Kind: "up", D: 30 * msec},
		{Kind: "up", Missed: true},
		{Kind: "down", D: 50 * msec},
		{Kind: "up", D: 12 * msec},
		{Kind: "down", D: 40 * msec},
		{Kind: "kv", D: 25 * msec},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d latencies, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d (%s %s at %v): got %+v, want %+v", i, events[i].Kind, events[i].Inst, events[i].At, got[i], want[i])
		}
	}
	up := summarise(got, "up")
	if up.N != 2 || up.Missed != 1 || up.P50 != 12*msec || up.Max != 30*msec || up.Mean != 21*msec {
		t.Errorf("up summary: %+v", up)
	}
	if c := up.cell(); c != "12 / 30 / 30 (1 of 3 never)" {
		t.Errorf("up cell: %q", c)
	}
	if c := summarise(got, "none").cell(); c != "—" {
		t.Errorf("empty cell: %q", c)
	}
}

// A down event of an instance that never came in is skipped, and left out
// of the summary.
func TestLatencyDownNotServedIsSkipped(t *testing.T) {
	events := []event{{At: 10 * msec, Inst: "gw-4", Kind: "up"}, {At: 20 * msec, Inst: "gw-4", Kind: "down"}}
	probes := []probe{{Sent: 1 * msec, Recv: 5 * msec, Inst: "gw-4", OK: true}, {Sent: 11 * msec, Recv: 15 * msec, Inst: "gw-1", OK: true}}
	got := latencies(events, probes, time.Second)
	if !got[0].Missed || !got[1].Skipped {
		t.Fatalf("got %+v, want the up missed and the down skipped", got)
	}
	if d := summarise(got, "down"); d.N != 0 || d.cell() != "—" {
		t.Errorf("down summary counts a skipped event: %+v", d)
	}
}

// A down event whose instance was not served after it took 0.
func TestLatencyDownNoneServed(t *testing.T) {
	got := latencies([]event{{At: 10 * msec, Inst: "gw-4", Kind: "down"}},
		[]probe{{Sent: 1 * msec, Recv: 9 * msec, Inst: "gw-4", OK: true}, {Sent: 11 * msec, Recv: 12 * msec, Inst: "gw-1", OK: true}}, time.Second)
	if got[0] != (latency{Kind: "down"}) {
		t.Errorf("got %+v, want 0 and not missed", got[0])
	}
}

func TestTable(t *testing.T) {
	rs := []result{
		{Stack: "fabio", Scenario: "kill", Failed: 133, FailedDetail: " (non-2xx 133)", Reloads: -1, Runtime: -1, CPU: -1,
			Up: dist{N: 1, P50: 1391 * msec, P99: 1391 * msec, Max: 1391 * msec}, Throughput: 1662.4, Load: "3.10"},
		{Stack: "serf@2.6", Scenario: "kill", Err: "consul leader: not after 30s"},
	}
	got := table(rs, false)
	for _, want := range []string{
		"| fabio | kill | 133 (non-2xx 133) | — | — | 1391 / 1391 / 1391 | — | — | 1662 | 3.10 |",
		"| serf@2.6 | kill | run failed: consul leader: not after 30s |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

func TestParseStacks(t *testing.T) {
	o := &options{haproxy26: "/h26", haproxy30: "/h30", haproxy34: "/h34"}
	sp, err := parseStacks("harender@2.6, fabio,serf@3.0,consul-template@3.4", o)
	if err != nil || len(sp) != 4 || sp[0].haproxy != "/h26" || sp[1].haproxy != "" || sp[2].haproxy != "/h30" || sp[3].haproxy != "/h34" {
		t.Fatalf("got %+v, %v", sp, err)
	}
	for _, bad := range []string{"harender", "fabio@2.6", "nginx@2.6", "harender@2.4"} {
		if _, err := parseStacks(bad, o); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
