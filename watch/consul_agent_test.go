package watch

// A real Consul dev agent for integration tests. Other packages' tests can
// copy this file as is: it depends on nothing else in this package.

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// consulAgent is a running `consul agent -dev`.
type consulAgent struct {
	// Addr is the HTTP address, host:port.
	Addr string
	// Client talks to it, without a token.
	Client *api.Client
	// Node is the agent's node name.
	Node string

	bin   string
	ports []int
	out   *lockedBuffer
	stop  func() // stops the running process and waits for it
}

// consulBinary finds the consul binary: $CONSUL_BIN, then bin/consul at the
// module root, then PATH. When there is none the test is skipped, or fails
// under CI=true.
func consulBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CONSUL_BIN"); p != "" {
		return p
	}
	if root, err := moduleRoot(); err == nil {
		p := filepath.Join(root, "bin", "consul")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("consul"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("consul binary not found (CONSUL_BIN, bin/consul, PATH) and CI=true")
	}
	t.Skip("consul binary not found; set CONSUL_BIN")
	return ""
}

// moduleRoot walks up from the working directory to the go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// lockedBuffer collects the agent's output for failure reports.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startConsulAgent starts a dev agent on free loopback ports with its data
// in a temp dir, waits until it has a leader and its node is in the
// catalog, and stops it with SIGTERM when the test ends.
func startConsulAgent(t testing.TB) *consulAgent {
	t.Helper()
	const node = "e2e"
	a := &consulAgent{Node: node, bin: consulBinary(t), ports: freePorts(t, 5), out: &lockedBuffer{}}
	a.Addr = "127.0.0.1:" + strconv.Itoa(a.ports[0])
	t.Cleanup(func() {
		if a.stop != nil {
			a.stop()
		}
		if t.Failed() {
			t.Logf("consul output:\n%s", a.out)
		}
	})

	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client, err := api.NewClient(&api.Config{Address: a.Addr, HttpClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	a.Client = client
	a.launch(t)
	return a
}

// Restart stops the agent with SIGTERM and starts a new one on the same
// ports with a fresh data dir: a dev agent keeps no state, so the new one
// has an empty catalog apart from its own node.
func (a *consulAgent) Restart(t testing.TB) {
	t.Helper()
	a.stop()
	a.stop = nil
	a.launch(t)
}

// launch starts the process on a's ports and waits until it is ready.
func (a *consulAgent) launch(t testing.TB) {
	t.Helper()
	p := a.ports
	cmd := exec.Command(a.bin, "agent", "-dev",
		"-node", a.Node,
		"-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-data-dir", t.TempDir(),
		"-http-port", strconv.Itoa(p[0]),
		"-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1",
		"-server-port", strconv.Itoa(p[1]),
		"-serf-lan-port", strconv.Itoa(p[2]),
		"-serf-wan-port", strconv.Itoa(p[3]),
	)
	cmd.Stdout, cmd.Stderr = a.out, a.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start consul: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	a.stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited: // exit status 1 after SIGTERM is normal for consul
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ready := func() error {
		leader, err := a.Client.Status().Leader()
		if err != nil {
			return err
		}
		if leader == "" {
			return errors.New("no leader yet")
		}
		n, _, err := a.Client.Catalog().Node(a.Node, nil)
		if err != nil {
			return err
		}
		if n == nil || n.Node == nil {
			return errors.New("node not in the catalog yet")
		}
		return nil
	}
	for {
		err := ready()
		if err == nil {
			return
		}
		select {
		case e := <-exited:
			a.stop = nil // nothing left to stop
			t.Fatalf("consul exited early: %v\n%s", e, a.out)
		case <-ctx.Done():
			t.Fatalf("consul not ready: %v\n%s", err, a.out)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// eventually retries f until it returns nil or 20s pass.
func eventually(t testing.TB, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
