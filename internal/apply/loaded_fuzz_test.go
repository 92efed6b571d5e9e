package apply

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/harender/harender/haproxy"
)

// FuzzReadLoaded feeds arbitrary bytes to the reader of the .loaded
// record: it must never panic, every error names the file, and a record
// it reads, written again by writeLoaded, reads back the same.
func FuzzReadLoaded(f *testing.F) {
	cfg, err := os.ReadFile(filepath.Join("..", "..", "haproxy", "testdata", "gateway.cfg"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append([]byte("# harender: HAProxy master pid 4242, reload 3, generation 0f1e2d\n"), cfg...))
	f.Add([]byte("# harender: HAProxy master pid 1, reload 0, generation x\nbackend b\n server s 10.0.0.1:80\n"))
	f.Add([]byte("# harender: HAProxy master pid -1, reload 99999999999999999999, generation \n"))
	f.Add([]byte("# harender: HAProxy master pid 1, reload 0, generation a b\r\n"))
	f.Add([]byte("no header"))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		config := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(config+LoadedSuffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := readLoaded(config)
		if err != nil {
			if !strings.Contains(err.Error(), config+LoadedSuffix) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if r == nil || r.parsed == nil || !bytes.HasSuffix(b, r.config) {
			t.Fatalf("record %+v of %q", r, b)
		}
		p := haproxy.Procs{Master: haproxy.MasterProc{Proc: haproxy.Proc{PID: r.masterPID, Reloads: r.reloads}}}
		g := &generation{config: r.config, parsed: r.parsed, hash: r.generation}
		again := filepath.Join(dir, "again.cfg")
		if _, err := writeLoaded(again, p, g); err != nil {
			t.Fatal(err)
		}
		r2, err := readLoaded(again)
		if err != nil {
			t.Fatalf("re-read of %+v: %v", r, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed\n%+v\ninto\n%+v", r, r2)
		}
		if !r2.matches(p) {
			t.Fatalf("record %+v does not match the procs it was written for", r2)
		}
	})
}
