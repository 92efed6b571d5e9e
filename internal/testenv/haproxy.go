package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/haproxy"
)

// haproxyStartTimeout bounds StartHAProxy's wait for a worker.
const haproxyStartTimeout = 10 * time.Second

// HAProxy is HAProxy running in master-worker mode with a master socket,
// started and stopped by haproxy.StartProcess, the sidecar's own mechanism.
type HAProxy struct {
	Bin          string
	Config       string
	MasterSocket string
	t            testing.TB
	proc         *haproxy.Process
	log          *LockedBuffer
}

// StartHAProxy runs bin -W -S DIR/master.sock -f config, waits until the
// master CLI lists a worker, and stops HAProxy when the test ends.
func StartHAProxy(t testing.TB, bin, config string) *HAProxy {
	t.Helper()
	dir := filepath.Dir(config)
	h := &HAProxy{Bin: bin, Config: config, MasterSocket: filepath.Join(dir, "master.sock"), t: t, log: &LockedBuffer{}}
	ctx, cancel := context.WithTimeout(t.Context(), haproxyStartTimeout)
	defer cancel()
	p, err := haproxy.StartProcess(ctx, haproxy.ProcessOptions{
		Binary:       bin,
		Config:       config,
		MasterSocket: h.MasterSocket,
		PIDFile:      filepath.Join(dir, "haproxy.pid"),
		OnLine:       func(line string) { fmt.Fprintln(h.log, line) },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.proc = p
	t.Cleanup(h.Stop)
	return h
}

// Log is what HAProxy printed so far.
func (h *HAProxy) Log() string { return h.log.String() }

// Stop terminates HAProxy's whole process group at once (no soft stop: a
// test that stops HAProxy wants it gone) and waits for it. It may be called
// more than once.
func (h *HAProxy) Stop() {
	if err := h.proc.Stop(0); err != nil {
		h.t.Errorf("stop haproxy: %v", err)
	}
}

// HAProxyVersion is the binary's version line.
func HAProxyVersion(bin string) string {
	out, _ := exec.Command(bin, "-v").Output()
	line, _, _ := strings.Cut(string(out), "\n")
	return fmt.Sprint(line)
}

// HAProxyHas reports whether the binary's release has feature f.
func HAProxyHas(t testing.TB, bin string, f haproxy.Feature) bool {
	t.Helper()
	v, err := haproxy.BinaryVersion(t.Context(), bin)
	if err != nil {
		t.Fatal(err)
	}
	return v.Has(f)
}
