package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// NetNS is a network namespace of a test's own, joined to the root
// namespace by a veth pair on a /30 of 10.200.0.0/16: HostAddr on the
// root side, PeerAddr inside. Both ends and the namespace go when the
// test ends.
type NetNS struct {
	Name               string
	HostIf, PeerIf     string
	HostAddr, PeerAddr string
}

// NewNetNS makes the namespace and its link, up. Where namespaces cannot
// be made (no ip, not root) the test is skipped, or failed under CI=true.
func NewNetNS(t testing.TB) *NetNS {
	t.Helper()
	Require(t, "ip (iproute2)", "/usr/sbin/ip", "/sbin/ip", "ip")
	used, _ := exec.Command("ip", "-o", "-4", "addr", "show").Output()
	var n *NetNS
	for range 100 {
		id := rand.N(1 << 20)
		third, fourth := 1+rand.N(254), 4*rand.N(64)
		prefix := fmt.Sprintf("10.200.%d.", third)
		if strings.Contains(string(used), fmt.Sprintf(" %s%d/", prefix, fourth+1)) {
			continue
		}
		n = &NetNS{
			Name:   fmt.Sprintf("hr-%05x", id),
			HostIf: fmt.Sprintf("hr%05xa", id), PeerIf: fmt.Sprintf("hr%05xb", id),
			HostAddr: fmt.Sprintf("%s%d", prefix, fourth+1), PeerAddr: fmt.Sprintf("%s%d", prefix, fourth+2),
		}
		break
	}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("ip netns add: %v: %s", err, out)
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; CI=true, so this is a failure", msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		// Deleting the namespace deletes the peer end, and so the pair.
		if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.Name, err, out)
		}
		exec.Command("ip", "link", "del", n.HostIf).Run() // gone already, normally
	})
	for _, args := range [][]string{
		{"link", "add", n.HostIf, "type", "veth", "peer", "name", n.PeerIf},
		{"link", "set", n.PeerIf, "netns", n.Name},
		{"addr", "add", n.HostAddr + "/30", "dev", n.HostIf},
		{"link", "set", n.HostIf, "up"},
		{"-n", n.Name, "addr", "add", n.PeerAddr + "/30", "dev", n.PeerIf},
		{"-n", n.Name, "link", "set", n.PeerIf, "up"},
		{"-n", n.Name, "link", "set", "lo", "up"},
	} {
		n.ip(t, args...)
	}
	return n
}

func (n *NetNS) ip(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Partition takes the link down on the namespace's side: the root side
// loses its carrier, packets to PeerAddr are dropped without an answer,
// and connections open across the link go silent, as in a real partition.
func (n *NetNS) Partition(t testing.TB) { n.ip(t, "-n", n.Name, "link", "set", n.PeerIf, "down") }

// Heal brings the link back up.
func (n *NetNS) Heal(t testing.TB) { n.ip(t, "-n", n.Name, "link", "set", n.PeerIf, "up") }

// Command is a command run inside the namespace.
func (n *NetNS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// StartConsulInNetNS starts a dev agent inside ns, bound to ns.PeerAddr
// and, for commands run inside ns, to its 127.0.0.1; Addr is
// PeerAddr:8500, reached from the root namespace across the link. It is
// stopped when the test ends.
func StartConsulInNetNS(t testing.TB, ns *NetNS) *Consul {
	t.Helper()
	bin := Require(t, "consul", os.Getenv("CONSUL_BIN"), RepoBin()+"/consul", "consul")
	c := &Consul{Addr: ns.PeerAddr + ":8500", Node: "e2e", bin: "ip", log: &LockedBuffer{}}
	c.args = []string{"netns", "exec", ns.Name, bin, "agent", "-dev", "-node", c.Node,
		"-bind", ns.PeerAddr, "-client", ns.PeerAddr + " 127.0.0.1",
		"-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1",
	}
	tr := &http.Transport{}
	cl, err := api.NewClient(&api.Config{Address: c.Addr, HttpClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	c.Client = cl
	t.Cleanup(func() {
		c.Stop()
		tr.CloseIdleConnections()
		if t.Failed() {
			t.Logf("consul output:\n%s", c.log)
		}
	})
	c.Start(t)
	return c
}
