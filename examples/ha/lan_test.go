package ha

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/harender/harender/internal/testenv"
)

// lan is a /24 of 10.201.0.0/16 on a bridge in a namespace of its own;
// every host on it is a namespace of its own, joined by a veth pair. No
// address outside these namespaces is used: the root namespace has no
// address on the LAN.
type lan struct {
	t      testing.TB
	id     string // suffix of every namespace and link name
	prefix string // "10.201.N."
	sw     string // the switch namespace, holding bridge br0
}

func newLAN(t testing.TB) *lan {
	t.Helper()
	testenv.Require(t, "ip (iproute2)", "/usr/sbin/ip", "/sbin/ip", "ip")
	used, _ := exec.Command("ip", "-o", "-4", "addr", "show").Output()
	l := &lan{t: t, id: fmt.Sprintf("%04x", rand.N(1<<16))}
	for {
		l.prefix = fmt.Sprintf("10.201.%d.", 1+rand.N(254))
		if !strings.Contains(string(used), " "+l.prefix) {
			break
		}
	}
	l.sw = "ha-sw-" + l.id
	if out, err := exec.Command("ip", "netns", "add", l.sw).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("ip netns add: %v: %s", err, out)
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; CI=true, so this is a failure", msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", l.sw).Run() })
	l.ip("-n", l.sw, "link", "add", "br0", "type", "bridge")
	l.ip("-n", l.sw, "link", "set", "br0", "up")
	l.ip("-n", l.sw, "link", "set", "lo", "up")
	return l
}

func (l *lan) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// host makes namespace ha-NAME-ID with eth0 on the LAN at prefix+octet.
// It returns the namespace's name and its address.
func (l *lan) host(name string, octet int) (ns, addr string) {
	l.t.Helper()
	ns, addr = "ha-"+name+"-"+l.id, fmt.Sprintf("%s%d", l.prefix, octet)
	l.ip("netns", "add", ns)
	l.t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	port, eth := l.port(name), "he"+name+l.id
	l.ip("-n", l.sw, "link", "add", port, "type", "veth", "peer", "name", eth)
	l.ip("-n", l.sw, "link", "set", eth, "netns", ns)
	l.ip("-n", l.sw, "link", "set", port, "master", "br0", "up")
	l.ip("-n", ns, "link", "set", eth, "name", "eth0")
	l.ip("-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
	l.ip("-n", ns, "link", "set", "eth0", "up")
	l.ip("-n", ns, "link", "set", "lo", "up")
	return ns, addr
}

// port is the bridge's end of host name's cable.
func (l *lan) port(name string) string { return "hp" + name + l.id }

// unplug takes the switch port of host name down: the host loses its
// carrier, as when its cable or its whole machine is gone.
func (l *lan) unplug(name string) { l.ip("-n", l.sw, "link", "set", l.port(name), "down") }

// plug brings it back.
func (l *lan) plug(name string) { l.ip("-n", l.sw, "link", "set", l.port(name), "up") }

// vipHolder says which of the namespaces has addr on eth0, or "".
func vipHolder(addr string, nss ...string) string {
	for _, ns := range nss {
		out, _ := exec.Command("ip", "-n", ns, "-4", "-o", "addr", "show", "dev", "eth0").Output()
		if strings.Contains(string(out), " "+addr+"/") {
			return ns
		}
	}
	return ""
}
