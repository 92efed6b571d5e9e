// Package ha tests a pair of load-balancer nodes (HAProxy started by
// harender, keepalived VRRP v3 over unicast, one VIP) in network
// namespaces: faults on the active node under load, measured from a
// client that opens a new connection every 10 ms. make ha-test runs every
// fault and writes the table to docs/ha.md; make test runs one.
package ha

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
)

// pair is the whole set-up: the LAN, a backend namespace (Consul and the
// gateways), two nodes, and a client namespace driving load at the VIP.
type pair struct {
	t      *testing.T
	lan    *lan
	vip    string
	client string
	nodes  [2]*node
	probe  *probe
}

func setUp(t *testing.T) *pair {
	if testing.Short() {
		t.Skip("the HA pair runs for a minute; not under -short")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("network namespaces need root; CI=true, so this is a failure")
		}
		t.Skip("network namespaces need root")
	}
	b := bins{
		keepalived: testenv.Require(t, "keepalived", "/usr/sbin/keepalived", "keepalived"),
		haproxy:    testenv.HAProxyBins()[len(testenv.HAProxyBins())-1],
		consul:     testenv.Require(t, "consul", os.Getenv("CONSUL_BIN"), testenv.RepoBin()+"/consul", "consul"),
		gateway:    testenv.Require(t, "gateway", testenv.RepoBin()+"/gateway"),
	}
	b.haproxy = testenv.Require(t, "haproxy", b.haproxy)
	b.harender = buildHarender(t)
	advert := cmpOr(os.Getenv("HA_ADVERT_INT"), "0.05")

	p := &pair{t: t, lan: newLAN(t)}
	be, beAddr := p.lan.host("be", 50)
	startBackend(t, b, be, beAddr, 2)
	p.client, _ = p.lan.host("cl", 100)
	p.vip = p.lan.prefix + "10"
	ns1, a1 := p.lan.host("n1", 11)
	ns2, a2 := p.lan.host("n2", 12)
	consul := beAddr + ":8500"
	p.nodes[0] = newNode(t, b, "n1", ns1, a1, a2, p.vip, consul, 150, advert)
	p.nodes[1] = newNode(t, b, "n2", ns2, a2, a1, p.vip, consul, 100, advert)
	for _, n := range p.nodes {
		if os.Getenv("HA_NO_LOCAL_VIP") == "" {
			n.acceptVIP(p.vip)
		}
		n.startHarender()
	}
	for _, n := range p.nodes {
		n.waitHealthy(60 * time.Second)
	}
	// n1 first: with nopreempt, the first node up takes the VIP.
	p.nodes[0].startKeepalived()
	p.waitHolder(p.nodes[0], 10*time.Second)
	p.nodes[1].startKeepalived()
	time.Sleep(time.Second)
	p.probe = startProbe(t, p.client, p.vip+":8080")
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err := getIn(p.client, "http://"+p.vip+":8080/")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the VIP does not answer: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return p
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// holder is the node that has the VIP, or nil.
func (p *pair) holder() *node {
	ns := vipHolder(p.vip, p.nodes[0].ns, p.nodes[1].ns)
	for _, n := range p.nodes {
		if n.ns == ns {
			return n
		}
	}
	return nil
}

func (p *pair) other(n *node) *node {
	if n == p.nodes[0] {
		return p.nodes[1]
	}
	return p.nodes[0]
}

func (p *pair) waitHolder(n *node, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for p.holder() != n {
		if time.Now().After(deadline) {
			h := p.holder()
			p.t.Fatalf("VIP not on %s after %s (holder: %v)", n.name, timeout, h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// row is one line of the table.
type row struct {
	Fault     string
	From, To  string        // VIP holder before and after
	Recovered time.Duration // from the fault to the first answer after the last failure
	Failed    int           // probes failed inside that window
	Outside   int           // probes failed in the second before the fault or 2-4 s after it
	Probes    int
	Wrk       testenv.WrkResult
	WrkErr    error
}

const (
	probeTimeout = 500 * time.Millisecond // as in probeLoop
	quiet        = time.Second            // before the fault: nothing may fail
	settle       = 2 * time.Second        // the window must close within this
	observe      = 4 * time.Second        // after it: nothing may fail (no flapping)
)

// measure runs fault under load and reads the probes around it.
func (p *pair) measure(name string, fault func()) row {
	p.t.Helper()
	from := p.holder()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wrk := exec.CommandContext(ctx, "ip", "netns", "exec", p.client, "wrk", "-t1", "-c8",
		"-d", fmt.Sprintf("%ds", int((quiet+observe)/time.Second)), "--timeout", "1s", "http://"+p.vip+":8080/")
	var wout strings.Builder
	wrk.Stdout, wrk.Stderr = &wout, &wout
	if err := wrk.Start(); err != nil {
		p.t.Fatalf("wrk: %v", err)
	}
	time.Sleep(quiet)
	t0 := time.Now()
	fault()
	time.Sleep(observe)
	r := row{Fault: name, From: nameOf(from), To: nameOf(p.holder())}
	werr := wrk.Wait()
	r.Wrk, r.WrkErr = testenv.ParseWrk(wout.String())
	if werr != nil && r.WrkErr == nil {
		r.WrkErr = werr
	}
	// A probe started up to its timeout before the fault may be cut by it:
	// it belongs to the window.
	before := p.probe.between(t0.Add(-quiet), t0.Add(-probeTimeout))
	for _, s := range before {
		if !s.ok {
			r.Outside++
			p.t.Logf("%s: failed %s before the fault: %s", name, t0.Sub(s.at).Round(time.Millisecond), s.err)
		}
	}
	during := p.probe.between(t0.Add(-probeTimeout), t0.Add(settle))
	last := -1
	for i, s := range during {
		if !s.ok {
			last, r.Failed = i, r.Failed+1
		}
	}
	r.Recovered = 0
	if last >= 0 {
		r.Recovered = settle // did not answer again inside the window
		for _, s := range during[last+1:] {
			if s.ok {
				r.Recovered = max(0, s.at.Sub(t0))
				break
			}
		}
		p.t.Logf("%s: first failure: %s", name, firstFail(during))
	}
	for _, s := range p.probe.between(t0.Add(settle), t0.Add(observe)) {
		if !s.ok {
			r.Outside++
			p.t.Logf("%s: failed %s after the fault: %s", name, s.at.Sub(t0).Round(time.Millisecond), s.err)
		}
	}
	r.Probes = len(before) + len(during)
	p.t.Logf("%s: VIP %s -> %s, answers again after %s, %d failed, %d outside the window; wrk: %s",
		name, r.From, r.To, r.Recovered.Round(time.Millisecond), r.Failed, r.Outside, r.Wrk)
	return r
}

func firstFail(ss []sample) string {
	for _, s := range ss {
		if !s.ok {
			return s.err
		}
	}
	return ""
}

func nameOf(n *node) string {
	if n == nil {
		return "nobody"
	}
	return n.name
}

// killHAProxyMaster is kill -9 of the active node's HAProxy master.
func (p *pair) killHAProxyMaster(n *node) {
	m, _ := n.haproxyPIDs()
	if m == 0 {
		p.t.Fatalf("%s: no haproxy master pid", n.name)
	}
	syscall.Kill(m, syscall.SIGKILL)
}

// killHAProxyWorkers is kill -9 of its workers, the master left alive.
func (p *pair) killHAProxyWorkers(n *node) {
	_, ws := n.haproxyPIDs()
	if len(ws) == 0 {
		p.t.Fatalf("%s: no haproxy worker", n.name)
	}
	for _, w := range ws {
		syscall.Kill(w, syscall.SIGKILL)
	}
}

// TestHAPairHAProxyKilled is the short run of make test: one fault.
func TestHAPairHAProxyKilled(t *testing.T) {
	p := setUp(t)
	a := p.holder()
	r := p.measure("HAProxy master killed (kill -9)", func() { p.killHAProxyMaster(a) })
	p.check(r, a)
	// harender starts HAProxy again; a returns as BACKUP and the VIP stays.
	a.waitHealthy(30 * time.Second)
	back := p.measure("HAProxy back on that node", func() {})
	if back.To != r.To {
		t.Errorf("the node came back and the VIP moved back to %s", back.To)
	}
}

// check asserts what a user would: the VIP moved to the other node, the
// client got answers again, and no failure fell outside the window.
func (p *pair) check(r row, from *node) {
	p.t.Helper()
	if r.To != p.other(from).name {
		p.t.Errorf("%s: VIP on %s, want %s", r.Fault, r.To, p.other(from).name)
	}
	if r.Recovered >= settle {
		p.t.Errorf("%s: the VIP did not answer again within %s", r.Fault, settle)
	}
	if r.Outside > 0 {
		p.t.Errorf("%s: %d failed requests outside the fault's window", r.Fault, r.Outside)
	}
}
