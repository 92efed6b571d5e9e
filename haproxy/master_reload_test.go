package haproxy

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseReloadReplyRecorded(t *testing.T) {
	tests := []struct {
		file          string
		ok, supported bool
		msgContains   string
	}{
		{"reload-ok-2.6.txt", false, false, ""},
		{"reload-failed-2.6.txt", false, false, ""},
		{"reload-ok-3.0.txt", true, true, "Loading success."},
		{"reload-failed-3.0.txt", false, true, "unknown keyword 'bogus'"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			ok, supported, msgs, err := ParseReloadReply(string(b))
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok || supported != tt.supported || !strings.Contains(msgs, tt.msgContains) {
				t.Errorf("got ok=%v supported=%v msgs=%q", ok, supported, msgs)
			}
			if strings.HasPrefix(msgs, "--") || strings.HasPrefix(msgs, "Success") {
				t.Errorf("messages keep the header: %q", msgs)
			}
		})
	}
}

func TestParseReloadReply(t *testing.T) {
	tests := []struct {
		in            string
		ok, supported bool
		msgs, err     string
	}{
		{in: "", ok: false, supported: false},
		{in: "\n\n", ok: false, supported: false},
		{in: "Success=1\n", ok: true, supported: true},
		{in: "Success=1\n--\n", ok: true, supported: true},
		{in: "Success=0\n--\n[ALERT] x\n\n", ok: false, supported: true, msgs: "[ALERT] x"},
		{in: "Success=1\r\n--\r\nhello\r\n", ok: true, supported: true, msgs: "hello"},
		{in: "Unknown command: 'reload'\n", err: "unexpected reload reply"},
		{in: "Success=2\n", err: "unexpected reload reply"},
	}
	for _, tt := range tests {
		ok, supported, msgs, err := ParseReloadReply(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || ok != tt.ok || supported != tt.supported || msgs != tt.msgs {
			t.Errorf("%q: got %v %v %q %v", tt.in, ok, supported, msgs, err)
		}
	}
}

func TestJudgeReload(t *testing.T) {
	procs := func(reloads, failed int, hasFailed bool, workers ...int) Procs {
		p := Procs{Master: MasterProc{Proc: Proc{PID: 1, Type: "master", Reloads: reloads}, Failed: failed, HasFailed: hasFailed}}
		for _, w := range workers {
			p.Workers = append(p.Workers, Proc{PID: w, Type: "worker"})
		}
		return p
	}
	tests := []struct {
		name          string
		before, after Procs
		wantErr       string
	}{
		{"new worker", procs(0, 0, true, 10), procs(1, 0, true, 11), ""},
		{"failed reset after earlier failure", procs(2, 1, true, 10), procs(3, 0, true, 12), ""},
		{"failed went up (2.6 bad config)", procs(1, 0, true, 10), procs(2, 1, true, 10), "reloads 1->2, failed 0->1"},
		{"no failed column, old worker only", procs(1, 0, false, 10), procs(2, 0, false, 10), "no new worker"},
		{"no failed column, new worker", procs(1, 0, false, 10), procs(2, 0, false, 11), ""},
		{"no worker", procs(1, 0, true, 10), procs(2, 0, true), "no worker after reload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := judgeReload("m.sock", tt.before, tt.after)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrReloadFailed) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "m.sock") {
				t.Fatalf("err = %v, want ErrReloadFailed with %q", err, tt.wantErr)
			}
		})
	}
}

// fakeMaster serves a unix socket that answers each command through reply.
func fakeMaster(t *testing.T, reply func(cmd string) string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 256)
			n, _ := c.Read(buf)
			_, _ = c.Write([]byte(reply(strings.TrimSpace(string(buf[:n])))))
			c.Close()
		}
	}()
	return path
}

func TestReloadUnconfirmed(t *testing.T) {
	path := fakeMaster(t, func(cmd string) string {
		if cmd == "show proc" {
			return "1 master 4 [failed: 0] 0d 2.6\n# workers\n2 worker 0 0d 2.6\n"
		}
		return "" // 2.6-style silent reload that never happens
	})
	ctx, cancel := contextWithTimeout(t, 300*time.Millisecond)
	defer cancel()
	m := &Master{Path: path}
	res, err := m.Reload(ctx)
	if !errors.Is(err, ErrReloadUnconfirmed) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want ErrReloadUnconfirmed naming %s", err, path)
	}
	if res.Before.Master.Reloads != 4 || res.Sync {
		t.Errorf("result = %+v", res)
	}
}

func TestReloadSyncFailure(t *testing.T) {
	path := fakeMaster(t, func(cmd string) string {
		if cmd == "show proc" {
			return "1 master 0 [failed: 0] 0d 3.0\n# workers\n2 worker 0 0d 3.0\n"
		}
		return "Success=0\n--\n[ALERT]    (1) : config : parsing [h.cfg:3] : unknown keyword 'x'\n"
	})
	m := &Master{Path: path}
	res, err := m.Reload(t.Context())
	if !errors.Is(err, ErrReloadFailed) || !strings.Contains(err.Error(), "[h.cfg:3]") {
		t.Fatalf("err = %v", err)
	}
	if !res.Sync || !strings.Contains(res.Messages, "unknown keyword") {
		t.Errorf("result = %+v", res)
	}
}

func TestMasterMissingSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.sock")
	m := &Master{Path: path, Retry: 50 * time.Millisecond}
	start := time.Now()
	_, err := m.ShowProc(t.Context())
	if !errors.Is(err, ErrSocket) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want ErrSocket naming %s", err, path)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("gave up after %s, want about the 50ms retry budget", d)
	}
	_, err = m.Reload(t.Context())
	if !errors.Is(err, ErrSocket) {
		t.Fatalf("Reload err = %v, want ErrSocket", err)
	}
}
