package ha

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// step is a fault on the active node (or its end) and the goal for it.
type step struct {
	name string
	goal time.Duration // -1: no request may fail
	run  func(p *pair, active *node)
	back string // the row for the node coming back; "" for none
	heal func(p *pair, n *node)
}

var steps = []step{{
	name: "HAProxy master killed (kill -9)", goal: 300 * time.Millisecond,
	run:  func(p *pair, a *node) { p.killHAProxyMaster(a) },
	back: "harender starts HAProxy again", heal: func(p *pair, n *node) { n.waitHealthy(30 * time.Second) },
}, {
	name: "HAProxy workers killed (kill -9)", goal: 300 * time.Millisecond,
	run:  func(p *pair, a *node) { p.killHAProxyWorkers(a) },
	back: "harender starts HAProxy again", heal: func(p *pair, n *node) { n.waitHealthy(30 * time.Second) },
}, {
	name: "harender killed (kill -9)", goal: 300 * time.Millisecond,
	run:  func(p *pair, a *node) { a.harender.cmd.Process.Signal(syscall.SIGKILL) },
	back: "harender started again", heal: func(p *pair, n *node) { <-n.harender.done; n.startHarender() },
}, {
	name: "node cut off (link down)", goal: 300 * time.Millisecond,
	run:  func(p *pair, a *node) { p.lan.unplug(a.name) },
	back: "link up again", heal: func(p *pair, n *node) { p.lan.plug(n.name) },
}, {
	name: "planned hand-over (SIGTERM to harender)", goal: -1,
	run:  func(p *pair, a *node) { a.harender.cmd.Process.Signal(syscall.SIGTERM) },
	back: "harender started again", heal: func(p *pair, n *node) { <-n.harender.done; n.startHarender() },
}}

// TestHAPairTable runs every fault in turn on whichever node is active,
// with the node's return after each, and writes the table to $HA_TABLE
// (make ha-test: docs/ha.md). It takes about 3 minutes.
func TestHAPairTable(t *testing.T) {
	if os.Getenv("HA_FULL") == "" {
		t.Skip("the full table runs under make ha-test (HA_FULL=1)")
	}
	p := setUp(t)
	var rows []row
	var goals []string
	for _, s := range steps {
		a := p.holder()
		if a == nil {
			t.Fatalf("%s: nobody holds the VIP", s.name)
		}
		r := p.measure(s.name, func() { s.run(p, a) })
		p.check(r, a)
		rows, goals = append(rows, r), append(goals, goalText(s.goal, r))
		if s.heal == nil {
			continue
		}
		s.heal(p, a)
		if s.back != "" {
			a.waitHealthy(60 * time.Second)
			time.Sleep(time.Second)
			b := p.measure(s.back+" (the node returns)", func() {})
			// The VIP must stay; a failed probe here is reported in the
			// table (on this shared machine, a probe can miss its 500 ms).
			if b.To != r.To {
				t.Errorf("%s: the VIP moved back to %s", b.Fault, b.To)
			}
			rows, goals = append(rows, b), append(goals, "VIP stays, 0 failed: "+yes(b.To == r.To && b.Failed == 0))
		}
	}
	table := formatTable(rows, goals)
	fmt.Println(table)
	if path := os.Getenv("HA_TABLE"); path != "" {
		if err := writeDoc(path, table, p.nodes[0].bins.haproxy); err != nil {
			t.Error(err)
		}
	}
}

func yes(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func goalText(goal time.Duration, r row) string {
	if goal < 0 {
		return "0 failed: " + yes(r.Failed == 0)
	}
	return fmt.Sprintf("<= %s: %s", goal, yes(r.Recovered <= goal))
}

func formatTable(rows []row, goals []string) string {
	var b strings.Builder
	b.WriteString("| fault on the active node | VIP moved | answers again after | failed probes | failed outside the window | wrk requests | wrk errors | goal |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for i, r := range rows {
		after := "no failure"
		if r.Failed > 0 {
			after = fmt.Sprintf("%.3f s", r.Recovered.Seconds())
		}
		fmt.Fprintf(&b, "| %s | %s -> %s | %s | %d of %d | %d | %d | %d | %s |\n",
			r.Fault, r.From, r.To, after, r.Failed, r.Probes, r.Outside, r.Wrk.Requests, r.Wrk.Failed(), goals[i])
	}
	return b.String()
}
