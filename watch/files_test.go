package watch

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A file written in place, truncated and then written a moment later, is
// delivered once, after the write: the reader never sees it empty.
func TestWatchFilesSettles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.tmpl")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := WatchFiles(t.Context(), []string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	fh.WriteString("new")
	fh.Close()

	select {
	case got := <-f.Changes():
		if got != path {
			t.Errorf("change of %q, want %q", got, path)
		}
		if data, _ := os.ReadFile(path); string(data) != "new" {
			t.Errorf("delivered while the file holds %q", data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no change delivered")
	}
	select {
	case got := <-f.Changes():
		t.Errorf("a second change of %q for one edit", got)
	case <-time.After(3 * settle):
	}

	// A new file renamed over it, as editors save, is seen too.
	tmp := filepath.Join(dir, ".t.tmpl.swp")
	if err := os.WriteFile(tmp, []byte("renamed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Changes():
	case <-time.After(5 * time.Second):
		t.Fatal("no change delivered for a rename over the file")
	}
}
