package testenv

import (
	"testing"
	"time"
)

// Kill stops the agent with SIGKILL, as kill -9 or the OOM killer would:
// no leave, no shutdown of its HTTP server. It waits for the process to be
// reaped. Start brings up a new, empty dev agent on the same ports.
func (c *Consul) Kill(t testing.TB) {
	t.Helper()
	if c.cmd == nil {
		t.Fatal("kill consul: the agent is not running")
	}
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill consul: %v", err)
	}
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("consul pid %d did not exit 10s after SIGKILL", c.cmd.Process.Pid)
	}
	c.cmd = nil
}

// PID is the agent's process id, 0 when it is not running.
func (c *Consul) PID() int {
	if c.cmd == nil {
		return 0
	}
	return c.cmd.Process.Pid
}
