package renderer

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// TestStagePermsFromFirstByte writes a 0600 destination while a reader
// polls the candidate and the destination: no byte is ever readable under
// other perms, even when a candidate left by an earlier run had 0644 (the
// old Stage truncated it, kept its mode, wrote, then chmodded).
func TestStagePermsFromFirstByte(t *testing.T) {
	for _, leftover := range []bool{false, true} {
		dir := t.TempDir()
		dest := filepath.Join(dir, "secret.pem")
		cand := dest + CandidateSuffix
		if leftover {
			if err := os.WriteFile(cand, nil, 0o644); err != nil { // empty: the poller counts files with bytes
				t.Fatal(err)
			}
			os.Chmod(cand, 0o644)
		}
		data := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB: a write that takes a while
		var stop atomic.Bool
		var wg sync.WaitGroup
		var seen []string
		var polls int
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				polls++
				for _, p := range []string{cand, dest} {
					fi, err := os.Lstat(p)
					if err == nil && fi.Size() > 0 && fi.Mode().Perm() != 0o600 && len(seen) < 5 {
						seen = append(seen, p+" "+fi.Mode().String())
					}
				}
			}
		}()
		_, err := WriteFile(dest, data, WriteOptions{Perms: 0o600})
		stop.Store(true)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) > 0 {
			t.Errorf("leftover candidate %v: bytes readable under other perms: %v", leftover, seen)
		}
		fi, err := os.Stat(dest)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("leftover candidate %v: destination %v, %v; want 0600", leftover, fi.Mode(), err)
		}
		t.Logf("leftover candidate %v: %d polls during the write", leftover, polls)
	}
}

// TestStageRefusesPlantedLink: a symlink planted at DEST.candidate is
// replaced, never followed.
func TestStageRefusesPlantedLink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	dest := filepath.Join(dir, "out")
	if err := os.Symlink(victim, dest+CandidateSuffix); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteFile(dest, []byte("new"), WriteOptions{Perms: 0o600}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the link's target was written: %q", b)
	}
	if b, _ := os.ReadFile(dest); string(b) != "new" {
		t.Errorf("dest = %q", b)
	}
}
