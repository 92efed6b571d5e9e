package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// HAProxy is HAProxy running in master-worker mode with a master socket.
type HAProxy struct {
	Bin          string
	Config       string
	MasterSocket string
	cmd          *exec.Cmd
	log          *LockedBuffer
}

// StartHAProxy runs bin -W -S DIR/master.sock -f config, waits for the
// master socket, and stops HAProxy when the test ends.
func StartHAProxy(t testing.TB, bin, config string) *HAProxy {
	t.Helper()
	dir := filepath.Dir(config)
	h := &HAProxy{Bin: bin, Config: config, MasterSocket: filepath.Join(dir, "master.sock"), log: &LockedBuffer{}}
	h.cmd = exec.Command(bin, "-W", "-S", h.MasterSocket, "-f", config, "-p", filepath.Join(dir, "haproxy.pid"))
	h.cmd.Stdout, h.cmd.Stderr = h.log, h.log
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	t.Cleanup(h.Stop)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(h.MasterSocket); err == nil {
			return h
		}
		if h.cmd.ProcessState != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("haproxy did not open %s; log:\n%s", h.MasterSocket, h.Log())
	return nil
}

// Log is what HAProxy printed so far.
func (h *HAProxy) Log() string { return h.log.String() }

// Stop stops HAProxy and waits for it.
func (h *HAProxy) Stop() {
	if h.cmd == nil || h.cmd.Process == nil {
		return
	}
	h.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { h.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		h.cmd.Process.Kill()
		<-done
	}
	h.cmd = nil
}

// HAProxyVersion is the binary's version line.
func HAProxyVersion(bin string) string {
	out, _ := exec.Command(bin, "-v").Output()
	line, _, _ := strings.Cut(string(out), "\n")
	return fmt.Sprint(line)
}
