package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harender/harender/internal/testbin"
)

// processConfig is a minimal config with one frontend bound to port.
func processConfig(t *testing.T, dir string, port int) string {
	t.Helper()
	cfg := filepath.Join(dir, "haproxy.cfg")
	text := fmt.Sprintf(`global
    stats socket %s/admin.sock level admin

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind 127.0.0.1:%d
    http-request return status 200
`, dir, port)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// processOptions runs cfg with its master socket and pid file in dir.
func processOptions(bin, dir, cfg string) ProcessOptions {
	return ProcessOptions{
		Binary:       bin,
		Config:       cfg,
		MasterSocket: filepath.Join(dir, "master.sock"),
		PIDFile:      filepath.Join(dir, "haproxy.pid"),
	}
}

// startProcess starts HAProxy and stops it when the test ends.
func startProcess(t *testing.T, o ProcessOptions) *Process {
	t.Helper()
	ctx, cancel := contextWithTimeout(t, 10*time.Second)
	defer cancel()
	p, err := StartProcess(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(5 * time.Second); err != nil {
			t.Errorf("stop: %v", err)
		}
		if t.Failed() {
			t.Logf("haproxy output:\n%s", p.Tail())
		}
	})
	return p
}

// liveInGroup lists the processes of group pgid that are not zombies.
func liveInGroup(t *testing.T, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var live []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces, so cut at the last ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			live = append(live, pid)
		}
	}
	return live
}

func TestProcessStartStop(t *testing.T) {
	forEachBinary(t, func(t *testing.T, bin haproxyBin) {
		dir := t.TempDir()
		o := processOptions(bin.Path, dir, processConfig(t, dir, testbin.FreePort(t)))
		lines := make(chan string, 100)
		o.OnLine = func(l string) {
			select {
			case lines <- l:
			default:
			}
		}
		p := startProcess(t, o)

		m := &Master{Path: o.MasterSocket}
		procs, err := m.ShowProc(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if procs.Master.PID != p.PID() || len(procs.Workers) != 1 {
			t.Fatalf("show proc = %+v, want master %d with one worker", procs, p.PID())
		}
		if b, err := os.ReadFile(o.PIDFile); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(p.PID()) {
			t.Errorf("pid file = %q, %v; want %d", b, err, p.PID())
		}
		if p.ExitErr() != nil || p.exited() {
			t.Fatalf("running process: exited=%v, ExitErr=%v", p.exited(), p.ExitErr())
		}
		if live := liveInGroup(t, p.PID()); len(live) < 2 {
			t.Fatalf("process group %d = %v, want the master and a worker", p.PID(), live)
		}

		if err := p.Stop(5 * time.Second); err != nil {
			t.Fatalf("stop: %v", err)
		}
		select {
		case <-p.Done():
		default:
			t.Fatal("Done still open after Stop")
		}
		if err := p.ExitErr(); err != nil {
			t.Errorf("soft stop: exit status %v, want 0", err)
		}
		if live := liveInGroup(t, p.PID()); len(live) != 0 {
			t.Fatalf("process group %d still has %v after Stop", p.PID(), live)
		}
		if err := p.Stop(time.Second); err != nil {
			t.Fatalf("second stop: %v", err)
		}
		// OnLine saw what Tail kept: at least the worker's birth ("New
		// worker" before 3.1, "Initializing new worker" since).
		close(lines)
		var seen []string
		for l := range lines {
			seen = append(seen, l)
		}
		if !strings.Contains(strings.ToLower(p.Tail()), "new worker") || strings.Join(seen, "\n") != p.Tail() {
			t.Errorf("OnLine saw %q; Tail = %q", seen, p.Tail())
		}
	})
}

func TestProcessCannotBind(t *testing.T) {
	forEachBinary(t, func(t *testing.T, bin haproxyBin) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		dir := t.TempDir()
		o := processOptions(bin.Path, dir, processConfig(t, dir, ln.Addr().(*net.TCPAddr).Port))
		ctx, cancel := contextWithTimeout(t, 10*time.Second)
		defer cancel()
		p, err := StartProcess(ctx, o)
		if err == nil {
			p.Stop(time.Second)
			t.Fatal("started on a taken port")
		}
		if !errors.Is(err, ErrProcessExited) || !strings.Contains(err.Error(), "cannot bind socket") {
			t.Fatalf("error = %v; want ErrProcessExited quoting \"cannot bind socket\"", err)
		}
		t.Logf("%v", err)
	})
}

func TestProcessMasterKilled(t *testing.T) {
	forEachBinary(t, func(t *testing.T, bin haproxyBin) {
		dir := t.TempDir()
		o := processOptions(bin.Path, dir, processConfig(t, dir, testbin.FreePort(t)))
		p := startProcess(t, o)
		if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed 5s after SIGKILL")
		}
		var exit interface{ ExitCode() int }
		if err := p.ExitErr(); err == nil || !errors.As(err, &exit) || exit.ExitCode() != -1 {
			t.Fatalf("ExitErr = %v, want killed by a signal", err)
		}
		if err := p.Stop(time.Second); err != nil {
			t.Fatalf("stop after death: %v", err)
		}
		if live := liveInGroup(t, p.PID()); len(live) != 0 {
			t.Fatalf("process group %d still has %v after Stop", p.PID(), live)
		}
	})
}

func TestProcessContextEnds(t *testing.T) {
	forEachBinary(t, func(t *testing.T, bin haproxyBin) {
		dir := t.TempDir()
		o := processOptions(bin.Path, dir, processConfig(t, dir, testbin.FreePort(t)))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		p, err := StartProcess(ctx, o)
		if err == nil {
			p.Stop(time.Second)
			t.Fatal("started with a cancelled context")
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	})
}

func TestProcessOptionsRequired(t *testing.T) {
	for _, o := range []ProcessOptions{
		{Config: "c", MasterSocket: "s"},
		{Binary: "b", MasterSocket: "s"},
		{Binary: "b", Config: "c"},
	} {
		if _, err := StartProcess(t.Context(), o); err == nil {
			t.Errorf("StartProcess(%+v) = nil error", o)
		}
	}
}

func TestProcessRead(t *testing.T) {
	many := make([]string, 25)
	for i := range many {
		many[i] = fmt.Sprintf("line %d", i)
	}
	long := strings.Repeat("x", maxLineBytes+5000)
	for _, tc := range []struct {
		name  string
		in    string
		lines []string // what OnLine sees
		tail  string
	}{
		{"empty", "", nil, ""},
		{"no final newline", "a\nb", []string{"a", "b"}, "a\nb"},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}, "a\nb"},
		{"blank lines", "a\n\nb\n", []string{"a", "", "b"}, "a\n\nb"},
		{"keeps the last 20", strings.Join(many, "\n") + "\n", many, strings.Join(many[5:], "\n")},
		{"caps a long line", long + "\nnext\n", []string{long[:maxLineBytes], "next"}, long[:maxLineBytes] + "\nnext"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Process{drained: make(chan struct{})}
			var got []string
			p.read(io.NopCloser(strings.NewReader(tc.in)), func(l string) { got = append(got, l) })
			if strings.Join(got, "|") != strings.Join(tc.lines, "|") || len(got) != len(tc.lines) {
				t.Errorf("lines = %d %.80q, want %d %.80q", len(got), got, len(tc.lines), tc.lines)
			}
			if p.Tail() != tc.tail {
				t.Errorf("tail = %.200q, want %.200q", p.Tail(), tc.tail)
			}
		})
	}
}
