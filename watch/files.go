package watch

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Files signals when any of a set of files changes on disk. It watches
// their directories, not the files, so editors that save by writing a new
// file and renaming it over the old one (vim, sed -i) are seen too.
type Files struct {
	fw      *fsnotify.Watcher
	names   map[string]bool
	changes chan string
	done    chan struct{}
	log     *slog.Logger
}

// settle is how long a file must stay unchanged before its change is
// delivered, so that a file written in place (truncated, then written, as
// by shell redirection) is not read between the two.
const settle = 50 * time.Millisecond

// WatchFiles starts watching paths until ctx ends or Close is called.
func WatchFiles(ctx context.Context, paths []string, log *slog.Logger) (*Files, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch files: %w", err)
	}
	f := &Files{fw: fw, names: map[string]bool{}, changes: make(chan string, 1), done: make(chan struct{}), log: log}
	dirs := map[string]bool{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			fw.Close()
			return nil, fmt.Errorf("watch %s: %w", p, err)
		}
		f.names[abs] = true
		dirs[filepath.Dir(abs)] = true
	}
	for d := range dirs {
		if err := fw.Add(d); err != nil {
			fw.Close()
			return nil, fmt.Errorf("watch %s: %w", d, err)
		}
	}
	go f.loop(ctx)
	return f, nil
}

// Changes delivers the path of a changed file. Changes that come faster
// than they are read are coalesced: the reader re-reads every file anyway.
func (f *Files) Changes() <-chan string { return f.changes }

// Close stops watching and waits for the watching goroutine.
func (f *Files) Close() {
	f.fw.Close()
	<-f.done
}

func (f *Files) loop(ctx context.Context) {
	defer close(f.done)
	var (
		pending = map[string]bool{}
		quiet   <-chan time.Time // fires once the pending files settled
	)
	for {
		select {
		case <-ctx.Done():
			f.fw.Close()
			return
		case ev, ok := <-f.fw.Events:
			if !ok {
				return
			}
			if !f.names[ev.Name] || !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) {
				continue
			}
			pending[ev.Name] = true
			quiet = time.After(settle)
		case <-quiet:
			for name := range pending {
				select {
				case f.changes <- name:
				default:
				}
			}
			clear(pending)
			quiet = nil
		case err, ok := <-f.fw.Errors:
			if !ok {
				return
			}
			if f.log != nil {
				f.log.Warn("watching template files", "error", err)
			}
		}
	}
}
