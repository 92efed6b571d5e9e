package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
)

// TestDebianExample runs examples/debian/harender.hcl beside HAProxy
// started as Debian's haproxy.service starts it (haproxy -Ws -f CONFIG -p
// PIDFILE -S /run/haproxy-master.sock), with Debian's HAProxy, and harender
// as harender.service starts it (NOTIFY_SOCKET set). Only the paths, the
// Consul address and the ports are moved into a temp dir. READY=1 must come
// once HAProxy serves the rendered config; HAProxy's master must keep its
// pid (systemd's MAINPID for haproxy.service); a new instance must reach
// HAProxy through the runtime socket, without a reload.
func TestDebianExample(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the harender binary, not in-process: nothing for -race -short to find")
	}
	bin := testenv.Require(t, "haproxy", "/usr/sbin/haproxy")
	if unit, err := os.ReadFile("/lib/systemd/system/haproxy.service"); err == nil {
		for _, want := range []string{"-Ws -f $CONFIG -p $PIDFILE $EXTRAOPTS", "EXTRAOPTS=-S /run/haproxy-master.sock"} {
			if !bytes.Contains(unit, []byte(want)) {
				t.Errorf("Debian's haproxy.service no longer has %q; the example assumes it:\n%s", want, unit)
			}
		}
	}
	harenderBin := buildHarender(t)
	consul, _ := startGateways(t, 2)
	dir := t.TempDir()
	bind := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	example, err := os.ReadFile("../../examples/debian/harender.hcl")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath, master := filepath.Join(dir, "haproxy.cfg"), filepath.Join(dir, "haproxy-master.sock")
	config := strings.NewReplacer(
		"/etc/haproxy/haproxy.cfg", cfgPath,
		"/run/haproxy-master.sock", master,
		"/run/haproxy/admin.sock", filepath.Join(dir, "admin.sock"),
		"/var/lib/haproxy/server-state", filepath.Join(dir, "server-state"),
		"0.0.0.0:80", bind,
		"127.0.0.1:8500", consul.Addr,
		"127.0.0.1:9120", listen,
	).Replace(string(example))
	hcl := writeFile(t, filepath.Join(dir, "harender.hcl"), config)

	// haproxy.service, before harender's first render: a config with no
	// frontend, as a fresh install has.
	writeFile(t, cfgPath, "global\n    log stderr format short local0 notice\ndefaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 2s\n")
	var hlog testenv.LockedBuffer
	hp := exec.Command(bin, "-Ws", "-f", cfgPath, "-p", filepath.Join(dir, "haproxy.pid"), "-S", master)
	hp.Stdout, hp.Stderr = &hlog, &hlog
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hp.Process.Signal(syscall.SIGTERM); hp.Wait() })
	if !poll(10*time.Second, 50*time.Millisecond, func() bool {
		_, err := (&haproxy.Master{Path: master}).ShowProc(t.Context())
		return err == nil
	}) {
		t.Fatalf("haproxy -Ws never answered on %s\n%s", master, hlog.String())
	}
	mainPID := masterPID(t, master)

	sockPath := filepath.Join(dir, "notify")
	sock := listenNotify(t, sockPath)
	var logs testenv.LockedBuffer
	run := exec.Command(harenderBin, "run", "--config", hcl)
	run.Env = append(os.Environ(), "NOTIFY_SOCKET="+sockPath, "WATCHDOG_USEC=2000000")
	run.Stderr = &logs
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Process.Signal(syscall.SIGTERM); run.Wait() })

	for deadline := time.After(30 * time.Second); ; {
		var m string
		select {
		case m = <-sock.got:
		case <-deadline:
			t.Fatalf("no READY=1 within 30s\n%s\nhaproxy:\n%s", logs.String(), hlog.String())
		}
		if strings.Contains(m, "READY=1") {
			break
		}
	}
	if _, err := testenv.Answers("http://"+bind+"/", 2); err != nil {
		t.Fatalf("READY=1 but HAProxy does not serve the gateways at %s: %v\n%s", bind, err, logs.String())
	}
	if pid := masterPID(t, master); pid != mainPID {
		t.Errorf("HAProxy's master pid went from %d to %d: systemd would see haproxy.service restart", mainPID, pid)
	}
	p, err := (&haproxy.Master{Path: master}).ShowProc(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	reloads := p.Master.Reloads
	t.Logf("READY=1 after %d reload(s) of Debian's HAProxy (%s)", reloads, testenv.HAProxyVersion(bin))

	// A third instance: through the runtime socket, no reload.
	testenv.StartGateway(t, consul, "gateway", "gw-3")
	waitAnswersWithin(t, "http://"+bind+"/", 3, 20*time.Second, logs.String)
	if p, err := (&haproxy.Master{Path: master}).ShowProc(t.Context()); err != nil || p.Master.Reloads != reloads {
		t.Errorf("a new instance cost a reload (%d, then %+v, %v)\n%s", reloads, p.Master, err, logs.String())
	}
}
