package haproxy

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestRuntimeReplyOK(t *testing.T) {
	tests := []struct {
		reply string
		ok    bool
	}{
		{"", true},
		{"\n", true},
		{"IP changed from '127.0.0.1' to '127.0.0.2' by 'stats socket command'\n\n", true},
		{"no need to change the addr, port changed from '18091' to '18093' by 'stats socket command'\n\n", true},
		{"port changed from '18091' to '18093' by 'stats socket command'\n\n", true},
		{"nothing changed\n\n", true},
		{"No such server.\n\n", false},
		{"No such backend.\n\n", false},
		{"Absolute weight can only be between 0 and 256 inclusive.\n\n", false},
		{"Invalid addr 'notanip'\n\n", false},
		{"'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n", false},
		{"Unknown command: 'bogus', but maybe one of the following ones is a better match:\n  help\n", false},
		{"Permission denied\n\n", false},
	}
	for _, tt := range tests {
		if got := RuntimeReplyOK(tt.reply); got != tt.ok {
			t.Errorf("RuntimeReplyOK(%q) = %v, want %v", tt.reply, got, tt.ok)
		}
	}
}

func TestRuntimeRejected(t *testing.T) {
	path := fakeMaster(t, func(cmd string) string {
		if strings.HasPrefix(cmd, "set server be/nope") {
			return "No such server.\n\n"
		}
		return "\n"
	})
	r := &Runtime{Path: path}
	err := r.SetServerWeight(t.Context(), "be", "nope", 3)
	if !errors.Is(err, ErrRuntimeRejected) || !strings.Contains(err.Error(), "No such server.") || !strings.Contains(err.Error(), "be/nope") {
		t.Fatalf("err = %v", err)
	}
	if err := r.SetServerWeight(t.Context(), "be", "s1", 3); err != nil {
		t.Fatal(err)
	}
	if err := r.SetServerState(t.Context(), "be", "s1", "up"); err == nil {
		t.Fatal("state up accepted")
	}
	if _, err := r.ServersState(t.Context()); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Fatalf("ServersState of a reply that is no state: err = %v", err)
	}
}

func TestRuntimeMissingSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.sock")
	r := &Runtime{Path: path}
	err := r.SetServerAddr(t.Context(), "be", "s1", "127.0.0.1", 80)
	if !errors.Is(err, ErrSocket) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want ErrSocket naming %s", err, path)
	}
}

func TestParseInfoVersion(t *testing.T) {
	for _, c := range []struct {
		in           string
		major, minor int
		bad          bool
	}{
		{"Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nRelease_date: 2026/10/17\n", 2, 6, false},
		{"Name: HAProxy\nVersion: 3.0.11-9e587df\n", 3, 0, false},
		{"Name: HAProxy\n", 0, 0, true},
		{"Version: dev\n", 0, 0, true},
		{"Version: -1.+2\n", 0, 0, true}, // found by FuzzParseInfoVersion
		{"Version: 3.\n", 0, 0, true},
	} {
		major, minor, err := parseInfoVersion(c.in)
		if (err != nil) != c.bad || major != c.major || minor != c.minor {
			t.Errorf("parseInfoVersion(%q) = %d, %d, %v", c.in, major, minor, err)
		}
	}
}
