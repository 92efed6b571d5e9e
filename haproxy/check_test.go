package haproxy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validConfig = `global
    maxconn 100

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind 127.0.0.1:65000
    default_backend be

backend be
    server s1 127.0.0.1:1
`

// badConfig has an unknown keyword on line 5.
const badConfig = `global
    maxconn 100

defaults
    bogus-keyword here
    timeout connect 1s
`

func TestCheck(t *testing.T) {
	forEachBinary(t, func(t *testing.T, bin haproxyBin) {
		dir := t.TempDir()
		good := filepath.Join(dir, "good.cfg")
		bad := filepath.Join(dir, "bad.cfg")
		if err := os.WriteFile(good, []byte(validConfig), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bad, []byte(badConfig), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Check(t.Context(), bin.Path, good); err != nil {
			t.Fatalf("valid config rejected: %v", err)
		}
		err := Check(t.Context(), bin.Path, bad)
		var ce *CheckError
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v, want *CheckError", err)
		}
		msg := err.Error()
		for _, want := range []string{"haproxy -c rejected " + bad + ":\n", "[ALERT]", bad + ":5]", "unknown keyword 'bogus-keyword'"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error lacks %q:\n%s", want, msg)
			}
		}
		if ce.Path != bad || ce.Output != strings.TrimSpace(ce.Output) {
			t.Errorf("CheckError = %+v", ce)
		}

		// Without any listener HAProxy exits 2: valid, "but will not start".
		noListener := filepath.Join(dir, "nolistener.cfg")
		if err := os.WriteFile(noListener, []byte("defaults\n    mode http\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		err = Check(t.Context(), bin.Path, noListener)
		if !errors.As(err, &ce) || !strings.Contains(ce.Output, "will not start (no listener)") {
			t.Fatalf("no-listener err = %v, want *CheckError quoting HAProxy", err)
		}
	})
}

func TestCheckMissingBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "no-haproxy")
	err := Check(t.Context(), bin, "/dev/null")
	var ce *CheckError
	if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), bin) {
		t.Fatalf("err = %v, want a non-CheckError naming %s", err, bin)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want it to wrap os.ErrNotExist", err)
	}
}
