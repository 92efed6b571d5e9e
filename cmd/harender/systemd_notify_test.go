package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// notifySocket is a unixgram socket as systemd's, listening at name (a
// path, or "@name" in the abstract namespace), that collects datagrams.
type notifySocket struct {
	conn *net.UnixConn
	got  chan string
}

func listenNotify(t *testing.T, name string) *notifySocket {
	t.Helper()
	addr := name
	if strings.HasPrefix(name, "@") {
		addr = "\x00" + name[1:]
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", name, err)
	}
	s := &notifySocket{conn: conn, got: make(chan string, 1000)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(s.got)
				return
			}
			s.got <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return s
}

// next is the next datagram, or fails after d.
func (s *notifySocket) next(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case m := <-s.got:
		return m
	case <-time.After(d):
		t.Fatalf("no datagram within %s", d)
		return ""
	}
}

// none checks that no datagram arrives within d.
func (s *notifySocket) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-s.got:
		t.Fatalf("unexpected datagram %q", m)
	case <-time.After(d):
	}
}

func TestNotifierPathSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	sock := listenNotify(t, path)
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := newNotifier(slog.New(slog.DiscardHandler))

	for _, v := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		if _, ok := os.LookupEnv(v); ok {
			t.Errorf("%s still set: a child would inherit it", v)
		}
	}
	if n.interval != 100*time.Millisecond {
		t.Errorf("watchdog ping interval %s, want WATCHDOG_USEC/2 = 100ms", n.interval)
	}

	n.readyOnce(false)
	sock.none(t, 100*time.Millisecond)
	n.readyOnce(true)
	if m := sock.next(t, time.Second); !strings.HasPrefix(m, "READY=1\n") {
		t.Errorf("got %q, want READY=1 first", m)
	}
	n.readyOnce(true)
	sock.none(t, 100*time.Millisecond)

	select {
	case <-n.watchdog():
		n.ping()
	case <-time.After(2 * time.Second):
		t.Fatal("watchdog channel never ticked")
	}
	if m := sock.next(t, time.Second); m != "WATCHDOG=1" {
		t.Errorf("got %q, want WATCHDOG=1", m)
	}
	n.stopping()
	if m := sock.next(t, time.Second); m != "STOPPING=1" {
		t.Errorf("got %q, want STOPPING=1", m)
	}
}

func TestNotifierAbstractSocket(t *testing.T) {
	name := fmt.Sprintf("@harender-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	sock := listenNotify(t, name)
	t.Setenv("NOTIFY_SOCKET", name)
	n := newNotifier(slog.New(slog.DiscardHandler))
	if n.watchdog() != nil {
		t.Error("watchdog channel without WATCHDOG_USEC")
	}
	n.readyOnce(true)
	if m := sock.next(t, time.Second); !strings.HasPrefix(m, "READY=1") {
		t.Errorf("got %q, want READY=1", m)
	}
}

// A watchdog meant for another process (WATCHDOG_PID) is not ours.
func TestNotifierWatchdogOtherPID(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "notify"))
	t.Setenv("WATCHDOG_USEC", "1000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	if n := newNotifier(slog.New(slog.DiscardHandler)); n.watchdog() != nil {
		t.Error("watchdog armed for WATCHDOG_PID of another process")
	}
}

// Without NOTIFY_SOCKET nothing is sent and nothing fails.
func TestNotifierOff(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "1000000")
	var logs bytes.Buffer
	n := newNotifier(slog.New(slog.NewTextHandler(&logs, nil)))
	if n.watchdog() != nil {
		t.Error("watchdog channel without a socket")
	}
	n.readyOnce(true)
	n.stopping()
	if logs.Len() != 0 {
		t.Errorf("logged without a socket:\n%s", logs.String())
	}
}

// A socket that is gone is logged once, not at every ping.
func TestNotifierFailureLoggedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone")
	t.Setenv("NOTIFY_SOCKET", path)
	var logs bytes.Buffer
	n := newNotifier(slog.New(slog.NewTextHandler(&logs, nil)))
	if err := n.send("WATCHDOG=1"); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("send to a missing socket: %v, want an error naming %s", err, path)
	}
	for range 3 {
		n.ping()
	}
	if c := strings.Count(logs.String(), "systemd notification failed"); c != 1 {
		t.Errorf("failure logged %d times, want once:\n%s", c, logs.String())
	}
}
