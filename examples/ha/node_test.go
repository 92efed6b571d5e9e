package ha

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/harender/harender/internal/testenv"
)

// proc is a program running inside a namespace, its output kept.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *testenv.LockedBuffer
	done chan struct{}
}

// startIn starts bin inside ns. after, if set, runs when it exits, the way
// systemd runs a unit's ExecStopPost.
func startIn(t *testing.T, ns, name string, after func(), bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: &testenv.LockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		if after != nil {
			after()
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(syscall.SIGTERM, 10*time.Second)
		if dir := os.Getenv("HA_LOG_DIR"); dir != "" {
			os.WriteFile(filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".log"), []byte(p.out.String()), 0o644)
		} else if t.Failed() {
			t.Logf("%s output (last 3000 bytes):\n%s", name, tail(p.out.String(), 3000))
		}
	})
	return p
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }

// stop signals the program and waits for it, killing it after timeout.
func (p *proc) stop(sig syscall.Signal, timeout time.Duration) {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// node is one load balancer: HAProxy started by harender, and keepalived.
type node struct {
	t            *testing.T
	name, ns     string
	addr, peer   string
	dir          string
	settings     map[string]any
	harender, ka *proc
	bins         bins
}

type bins struct{ harender, haproxy, keepalived, consul, gateway string }

var confTemplates = template.Must(template.ParseFiles("keepalived.conf.tmpl", "harender.hcl.tmpl"))

func render(t *testing.T, name, dest string, data any) {
	t.Helper()
	var b bytes.Buffer
	if err := confTemplates.ExecuteTemplate(&b, name, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dest, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newNode writes the node's configs; start starts its programs.
func newNode(t *testing.T, b bins, name, ns, addr, peer, vip, consul string, priority int, advertInt string) *node {
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, name: name, ns: ns, addr: addr, peer: peer, dir: dir, bins: b}
	n.settings = map[string]any{
		"Name": name, "Dir": dir, "Consul": consul, "HAProxy": b.haproxy,
		"WeightFile": filepath.Join(dir, "vrrp-weight"), "HandoverDelay": "1s",
		"Harender": b.harender, "HarenderConfig": filepath.Join(dir, "harender.hcl"),
		// The kernel here has no process-events connector (keepalived logs
		// errno 111 and holds the instance in FAULT), so the test relies on
		// the weight file alone; see startHarender.
		"TrackProcess": false,
		"Interface":    "eth0", "RouterID": 51, "Priority": priority, "AdvertInt": advertInt,
		"Addr": addr, "Peer": peer, "VIP": vip, "PrefixLen": 24,
	}
	render(t, "harender.hcl.tmpl", filepath.Join(dir, "harender.hcl"), n.settings)
	render(t, "keepalived.conf.tmpl", filepath.Join(dir, "keepalived.conf"), n.settings)
	t.Cleanup(n.killHAProxy) // left running when harender was killed
	return n
}

func (n *node) weightFile() string { return n.settings["WeightFile"].(string) }

// startHarender starts harender run. When it exits, for whatever reason,
// the fault value goes into the weight file, as harender.service's
// ExecStopPost does under systemd: keepalived then gives the VIP up at
// once, without the process-events connector.
func (n *node) startHarender() {
	n.harender = startIn(n.t, n.ns, n.name+" harender", func() {
		tmp := n.weightFile() + ".stop"
		if os.WriteFile(tmp, []byte("-254\n"), 0o644) == nil {
			os.Rename(tmp, n.weightFile())
		}
	}, n.bins.harender, "run", "--config", filepath.Join(n.dir, "harender.hcl"), "--log-level", "info")
}

func (n *node) startKeepalived() {
	n.ka = startIn(n.t, n.ns, n.name+" keepalived", nil, n.bins.keepalived,
		"--vrrp", "--dont-fork", "--log-console", "--log-detail",
		"--use-file", filepath.Join(n.dir, "keepalived.conf"),
		"--pid", filepath.Join(n.dir, "keepalived.pid"), "--vrrp_pid", filepath.Join(n.dir, "vrrp.pid"))
}

// acceptVIP has the node take packets sent to the VIP at all times, not
// only while keepalived has put the VIP on eth0: a local route on lo. So
// in a planned hand-over the packets still sent to the old node (until the
// new one's gratuitous ARP reaches the client) are served there, by the
// HAProxy that keeps running for vrrp_handover_delay. arp_ignore=1: only
// the node with the VIP on eth0 answers ARP for it.
func (n *node) acceptVIP(vip string) {
	n.t.Helper()
	for _, args := range [][]string{
		{"ip", "route", "add", "local", vip + "/32", "dev", "lo"},
		{"sysctl", "-qw", "net.ipv4.conf.eth0.arp_ignore=1", "net.ipv4.conf.eth0.arp_announce=2"},
	} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", n.ns}, args...)...).CombinedOutput(); err != nil {
			n.t.Fatalf("%s: %s: %v: %s", n.name, strings.Join(args, " "), err, out)
		}
	}
}

// haproxyPIDs is HAProxy's master pid and its workers'.
func (n *node) haproxyPIDs() (master int, workers []int) {
	b, err := os.ReadFile(filepath.Join(n.dir, "haproxy.pid"))
	if err != nil {
		return 0, nil
	}
	master, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	out, _ := exec.Command("pgrep", "-P", strconv.Itoa(master)).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			workers = append(workers, pid)
		}
	}
	return master, workers
}

func (n *node) killHAProxy() {
	if m, _ := n.haproxyPIDs(); m > 0 {
		syscall.Kill(m, syscall.SIGKILL)
	}
}

// waitHealthy waits for harender's /healthz inside the node.
func (n *node) waitHealthy(timeout time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := getIn(n.ns, "http://127.0.0.1:9120/healthz")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: harender not healthy after %s: %v", n.name, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// backend is the namespace behind the pair: a Consul dev agent and the
// gateway instances, which register themselves.
func startBackend(t *testing.T, b bins, ns, addr string, gateways int) {
	t.Helper()
	startIn(t, ns, "consul", nil, b.consul, "agent", "-dev", "-node", "ha",
		"-bind", addr, "-client", addr+" 127.0.0.1",
		"-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1")
	deadline := time.Now().Add(60 * time.Second)
	for {
		leader, err := getIn(ns, "http://127.0.0.1:8500/v1/status/leader")
		if err == nil && strings.Contains(leader, ":") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consul has no leader after 60s: %v %q", err, leader)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i := 1; i <= gateways; i++ {
		startIn(t, ns, fmt.Sprintf("gw-%d", i), nil, b.gateway,
			"-name", fmt.Sprintf("gw-%d", i), "-listen", fmt.Sprintf("%s:%d", addr, 9000+i), "-consul", addr+":8500")
	}
}

// buildHarender builds the harender under test.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func buildHarender(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ha-harender-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "harender")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", buildOnce.path, "github.com/harender/harender/cmd/harender").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}
