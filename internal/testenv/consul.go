package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

// Consul is a `consul agent -dev`, bound to loopback.
type Consul struct {
	Addr   string      // host:port of the HTTP API
	Client *api.Client // talks to it, without a token
	Node   string      // the agent's node name
	bin    string
	args   []string
	log    *LockedBuffer // the output of every start, for failure reports
	cmd    *exec.Cmd
	exited chan error // receives cmd's exit
}

// StartConsul starts a dev agent on free loopback ports and waits until it
// is ready. It is stopped when the test ends.
func StartConsul(t testing.TB) *Consul {
	t.Helper()
	c := NewConsul(t)
	c.Start(t)
	return c
}

// NewConsul picks the ports of a dev agent without starting it, so a test
// can point harender at a Consul that is not there yet. The agent is
// stopped when the test ends, and its output logged if the test failed.
func NewConsul(t testing.TB) *Consul {
	t.Helper()
	bin := Require(t, "consul", os.Getenv("CONSUL_BIN"), filepath.Join(RepoBin(), "consul"), "consul")
	httpPort := FreePort(t)
	c := &Consul{Addr: fmt.Sprintf("127.0.0.1:%d", httpPort), Node: "e2e", bin: bin, log: &LockedBuffer{}}
	c.args = []string{"agent", "-dev", "-node", c.Node,
		"-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-http-port", strconv.Itoa(httpPort), "-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1",
		"-server-port", strconv.Itoa(FreePort(t)), "-serf-lan-port", strconv.Itoa(FreePort(t)),
		"-serf-wan-port", strconv.Itoa(FreePort(t)),
	}
	// An own transport, so that the test can close its idle connections
	// and leave no goroutine behind.
	tr := &http.Transport{}
	cl, err := api.NewClient(&api.Config{Address: c.Addr, HttpClient: &http.Client{Transport: tr}})
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
	return c
}

// Start starts the agent (again, after Stop) and waits until it has a
// leader and its node is in the catalog.
func (c *Consul) Start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(c.bin, c.args...)
	cmd.Stdout, cmd.Stderr = c.log, c.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start consul: %v", err)
	}
	c.cmd, c.exited = cmd, make(chan error, 1)
	go func(exited chan<- error) { exited <- cmd.Wait() }(c.exited)

	deadline := time.After(60 * time.Second)
	for {
		err := c.ready()
		if err == nil {
			return
		}
		select {
		case e := <-c.exited:
			c.cmd = nil // nothing left to stop
			t.Fatalf("consul exited early: %v\n%s", e, c.log)
		case <-deadline:
			t.Fatalf("consul agent at %s not ready in 60s: %v\n%s", c.Addr, err, c.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ready is nil once the agent has a leader and its node is in the catalog.
func (c *Consul) ready() error {
	leader, err := c.Client.Status().Leader()
	if err != nil {
		return err
	}
	if leader == "" {
		return errors.New("no leader yet")
	}
	n, _, err := c.Client.Catalog().Node(c.Node, nil)
	if err != nil {
		return err
	}
	if n == nil || n.Node == nil {
		return errors.New("node not in the catalog yet")
	}
	return nil
}

// Stop stops the agent with SIGTERM and waits for it.
func (c *Consul) Stop() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited: // exit status 1 after SIGTERM is normal for consul
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
}

// Restart stops the agent and starts it again on the same ports. A dev
// agent keeps no state: the new one has an empty catalog apart from its
// own node, and a new node ID.
func (c *Consul) Restart(t testing.TB) {
	t.Helper()
	c.Stop()
	c.Start(t)
}

// WaitPassing waits until service has exactly n passing instances.
func (c *Consul) WaitPassing(t testing.TB, service string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got int
	for ctx.Err() == nil {
		entries, _, err := c.Client.Health().Service(service, "", true, (&api.QueryOptions{}).WithContext(ctx))
		if err == nil {
			got = len(entries)
			if got == n {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("service %s: %d passing instances, want %d", service, got, n)
}

// LockedBuffer is a bytes.Buffer safe for concurrent writers and readers:
// a process or a logger may write it while a test reads it.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes is a copy of what was written so far.
func (b *LockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

func (b *LockedBuffer) String() string { return string(b.Bytes()) }
