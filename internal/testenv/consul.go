package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// Consul is a running `consul agent -dev`, bound to loopback.
type Consul struct {
	Addr   string // host:port of the HTTP API
	Client *api.Client
	cmd    *exec.Cmd
	log    *bytes.Buffer
	args   []string
	bin    string
}

// StartConsul starts a dev agent on free loopback ports and waits for a
// leader. It is stopped when the test ends.
func StartConsul(t testing.TB) *Consul {
	t.Helper()
	c := NewConsul(t)
	c.Start(t)
	return c
}

// NewConsul picks the ports of a dev agent without starting it, so a test
// can point harender at a Consul that is not there yet.
func NewConsul(t testing.TB) *Consul {
	t.Helper()
	bin := Require(t, "consul", os.Getenv("CONSUL_BIN"), filepath.Join(RepoBin(), "consul"), "consul")
	httpPort := FreePort(t)
	c := &Consul{Addr: fmt.Sprintf("127.0.0.1:%d", httpPort), bin: bin}
	c.args = []string{"agent", "-dev", "-node", "e2e",
		"-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-http-port", strconv.Itoa(httpPort), "-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1",
		"-server-port", strconv.Itoa(FreePort(t)), "-serf-lan-port", strconv.Itoa(FreePort(t)),
		"-serf-wan-port", strconv.Itoa(FreePort(t)),
	}
	cl, err := api.NewClient(&api.Config{Address: c.Addr})
	if err != nil {
		t.Fatal(err)
	}
	c.Client = cl
	t.Cleanup(func() { c.Stop() })
	return c
}

// Start starts the agent (again, after Stop) and waits for a leader.
func (c *Consul) Start(t testing.TB) {
	t.Helper()
	c.log = &bytes.Buffer{}
	c.cmd = exec.Command(c.bin, c.args...)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start consul: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if leader, err := c.Client.Status().Leader(); err == nil && leader != "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("consul agent at %s elected no leader in 20s; log:\n%s", c.Addr, c.log.String())
}

// Stop stops the agent with SIGTERM and waits for it.
func (c *Consul) Stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
	c.cmd = nil
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
