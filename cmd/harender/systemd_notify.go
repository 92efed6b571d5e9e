package main

// systemd's notify protocol (sd_notify(3)), for Type=notify and
// WatchdogSec=: one datagram per state change on the unix socket named by
// $NOTIFY_SOCKET ('@' = Linux abstract namespace). Without the variable
// every call does nothing.

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
)

// notifier sends state to systemd. Without a socket it does nothing.
type notifier struct {
	socket   string        // $NOTIFY_SOCKET, "" when not under systemd
	interval time.Duration // watchdog ping period: WATCHDOG_USEC/2, 0 off
	log      *slog.Logger
	ready    bool
	failed   bool // a send failed and was logged; later failures are not
	tick     *time.Ticker
}

// newNotifier reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, then
// unsets them, as sd_notify(unset_environment=1) does, so that a child
// (HAProxy started by harender) does not talk to systemd for harender.
func newNotifier(log *slog.Logger) *notifier {
	n := &notifier{socket: os.Getenv("NOTIFY_SOCKET"), log: log}
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	pid := os.Getenv("WATCHDOG_PID")
	if err == nil && usec > 0 && (pid == "" || pid == strconv.Itoa(os.Getpid())) {
		n.interval = time.Duration(usec) * time.Microsecond / 2
	}
	for _, v := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		os.Unsetenv(v)
	}
	if n.socket == "" {
		n.interval = 0
	}
	if n.socket != "" {
		log.Info("systemd notify socket found", "socket", n.socket, "watchdog_ping", n.interval)
	}
	return n
}

// send writes one datagram, e.g. "READY=1\nSTATUS=...".
func (n *notifier) send(state string) error {
	if n.socket == "" {
		return nil
	}
	name := n.socket
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	return nil
}

// notify sends state and logs the first failure.
func (n *notifier) notify(state string) {
	if err := n.send(state); err != nil && !n.failed {
		n.failed = true
		n.log.Warn("systemd notification failed; later failures are not logged", "error", err)
	}
}

// readyOnce sends READY=1 the first time applied holds.
func (n *notifier) readyOnce(applied bool) {
	if n.socket == "" || n.ready || !applied {
		return
	}
	n.ready = true
	n.notify("READY=1\nSTATUS=haproxy.cfg applied")
}

// watchdog ticks every interval, or never (nil) without a watchdog. The
// loop that handles updates pings on it, so a stuck loop stops pinging.
func (n *notifier) watchdog() <-chan time.Time {
	if n.interval <= 0 {
		return nil
	}
	if n.tick == nil {
		n.tick = time.NewTicker(n.interval)
	}
	return n.tick.C
}

// ping tells systemd's watchdog the loop is alive.
func (n *notifier) ping() { n.notify("WATCHDOG=1") }

// stopping says the service is shutting down, and stops the ticker.
func (n *notifier) stopping() {
	if n.tick != nil {
		n.tick.Stop()
	}
	n.notify("STOPPING=1")
}
