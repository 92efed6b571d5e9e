package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
)

// TestRunSystemdNotify runs the harender binary as systemd would run
// packaging/harender.service (Type=notify, WatchdogSec): NOTIFY_SOCKET and
// WATCHDOG_USEC set, a real unixgram socket listening. HAProxy's port is
// held at first, so the first apply cannot succeed: the watchdog must be
// pinged but READY=1 must not come. Once the port is free, READY=1 must
// come only with haproxy.cfg written and HAProxy serving it; SIGHUP (the
// unit's ExecReload) must keep it running; SIGTERM must send STOPPING=1.
func TestRunSystemdNotify(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the harender binary, not in-process: nothing for -race -short to find")
	}
	bins := testenv.HAProxyBins()
	bin := testenv.Require(t, "haproxy", bins[len(bins)-1])
	harenderBin := buildHarender(t)
	consul, _ := startGateways(t, 1)
	s, _ := runSetup(t, consul.Addr, bin, "")
	held := holdPort(t, s.bind)
	sockPath := filepath.Join(t.TempDir(), "notify")
	sock := listenNotify(t, sockPath)

	var logs testenv.LockedBuffer
	cmd := exec.Command(harenderBin, "run", "--config", s.config)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sockPath, "WATCHDOG_USEC=400000")
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
		}
	})

	// Port held: pings, no READY.
	pings := 0
	for deadline := time.After(3 * time.Second); pings < 3; {
		select {
		case m := <-sock.got:
			if strings.Contains(m, "READY=1") {
				t.Fatalf("READY=1 while HAProxy could not bind its port\n%s", logs.String())
			}
			if m == "WATCHDOG=1" {
				pings++
			}
		case <-deadline:
			t.Fatalf("%d WATCHDOG=1 in 3s with WATCHDOG_USEC=400000, want 3\n%s", pings, logs.String())
		}
	}
	for end := time.Now().Add(10 * time.Second); errorLine(logs.String(), "annot bind") == "" && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	if errorLine(logs.String(), "annot bind") == "" {
		t.Fatalf("no error line about the held port; the test did not hold back the first apply\n%s", logs.String())
	}

	held.Close()
	var ready string
	for deadline := time.After(20 * time.Second); ready == ""; {
		select {
		case m := <-sock.got:
			if strings.Contains(m, "READY=1") {
				ready = m
			}
		case <-deadline:
			t.Fatalf("no READY=1 within 20s of freeing the port\n%s", logs.String())
		}
	}
	// At READY=1: the config is on disk and HAProxy runs it.
	cfg, err := os.ReadFile(s.haproxyCfg)
	if err != nil || !strings.Contains(string(cfg), "server gw-1 ") {
		t.Errorf("READY=1 (%q) but haproxy.cfg has no server gw-1 (err %v):\n%s", ready, err, cfg)
	}
	procs, err := (&haproxy.Master{Path: s.master}).ShowProc(t.Context())
	if err != nil || len(procs.Workers) == 0 {
		t.Fatalf("READY=1 but HAProxy's master shows no worker: %v %+v", err, procs)
	}
	if _, err := testenv.Answers("http://"+s.bind+"/", 1); err != nil {
		t.Errorf("READY=1 but HAProxy does not answer at %s: %v", s.bind, err)
	}
	// HAProxy, started by harender, must not inherit NOTIFY_SOCKET: with
	// -Ws it would tell systemd READY for harender.
	if env, err := os.ReadFile("/proc/" + strconv.Itoa(procs.Master.PID) + "/environ"); err != nil {
		t.Errorf("read HAProxy master's environment: %v", err)
	} else if bytes.Contains(env, []byte("NOTIFY_SOCKET=")) || bytes.Contains(env, []byte("WATCHDOG_USEC=")) {
		t.Errorf("HAProxy's master (pid %d) inherited NOTIFY_SOCKET or WATCHDOG_USEC", procs.Master.PID)
	}

	// ExecReload: SIGHUP re-reads the config; the loop goes on pinging.
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog := func(what string) {
		t.Helper()
		if !poll(10*time.Second, 50*time.Millisecond, func() bool { return strings.Contains(logs.String(), what) }) {
			t.Fatalf("no %q in the log\n%s", what, logs.String())
		}
	}
	waitLog("SIGHUP: config and templates re-read")
	for pings = 0; pings < 2; {
		select {
		case m := <-sock.got:
			if strings.Contains(m, "READY=1") {
				t.Errorf("a second READY=1 after SIGHUP: %q", m)
			}
			if m == "WATCHDOG=1" {
				pings++
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("WATCHDOG=1 stopped after SIGHUP\n%s", logs.String())
		}
	}

	// systemctl stop: SIGTERM, STOPPING=1, exit 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopping := false
	for deadline := time.After(15 * time.Second); !stopping; {
		select {
		case m := <-sock.got:
			stopping = m == "STOPPING=1"
		case <-deadline:
			t.Fatalf("no STOPPING=1 within 15s of SIGTERM\n%s", logs.String())
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("harender run after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("harender run did not exit within 15s of SIGTERM")
	}
}
