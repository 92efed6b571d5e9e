package watch

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func TestFileQueryFollowsChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := NewFileQuery(path)
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != "file("+path+")" {
		t.Errorf("String = %q", d.String())
	}
	data, meta, err := d.Fetch(t.Context(), nil, &api.QueryOptions{WaitTime: time.Minute})
	if err != nil || data != "one" || meta.LastIndex == 0 {
		t.Fatalf("first fetch = %v, %+v, %v", data, meta, err)
	}
	// Unchanged: blocks until WaitTime, then answers with the same index.
	start := time.Now()
	_, again, _ := d.Fetch(t.Context(), nil, &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 300 * time.Millisecond})
	if again.LastIndex != meta.LastIndex || time.Since(start) < 300*time.Millisecond {
		t.Errorf("unchanged file: index %d (was %d) after %s", again.LastIndex, meta.LastIndex, time.Since(start))
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		os.WriteFile(path, []byte("two!"), 0o644)
	}()
	data, next, err := d.Fetch(t.Context(), nil, &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: time.Minute})
	if err != nil || data != "two!" || next.LastIndex == meta.LastIndex {
		t.Errorf("after a change: %v, %+v, %v", data, next, err)
	}
	os.Remove(path)
	if _, _, err := d.Fetch(t.Context(), nil, &api.QueryOptions{}); err == nil {
		t.Error("a missing file is no error")
	}
	if _, err := NewFileQuery(""); err == nil {
		t.Error("empty path accepted")
	}
}
