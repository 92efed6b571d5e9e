package apply

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The values written to the VRRP weight file. keepalived's track_file
// multiplies the file's number by the block's weight (1 by default); a
// result under -253 puts the VRRP instance in FAULT, which gives the VIP
// up at once (it sends a priority 0 advert).
const (
	weightOK    = "0"
	weightFault = "-254"
)

// weightFile is the file keepalived tracks (vrrp_track_file, read on every
// inotify event): "0" while HAProxy runs what harender last applied,
// "-254" while it does not. It is written when the value changes, whole
// (a temp file renamed over it), from any goroutine.
type weightFile struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	health  string // the engine's health: "" when HAProxy runs what was applied
	exited  bool   // the HAProxy the engine started has exited
	closing bool   // harender is stopping: the VIP is given up first
	written string // the value on disk, "" before the first write
}

func newWeightFile(path string, log *slog.Logger) *weightFile {
	if path == "" {
		return nil
	}
	// Nothing is applied yet: the node must not take the VIP before
	// HAProxy runs.
	w := &weightFile{path: path, log: log, health: "not applied yet"}
	w.update()
	return w
}

// setHealth follows the engine's health.
func (w *weightFile) setHealth(reason string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.health = reason
	w.update()
}

// setExited is called the moment the supervised HAProxy exits (true) and
// when a new one has started (false). A converge that was running when
// HAProxy died cannot undo it: only a start can.
func (w *weightFile) setExited(exited bool) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.exited = exited
	if !exited {
		// Started: "0" once a converge has seen it run what was applied.
		w.health = "haproxy started; not converged yet"
	}
	w.update()
}

// giveUp writes the fault value for good (harender is stopping) and waits
// delay, so that the peer holds the VIP before HAProxy stops.
func (w *weightFile) giveUp(ctx context.Context, delay time.Duration) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.closing = true
	w.update()
	w.mu.Unlock()
	if delay <= 0 {
		return
	}
	w.log.Info("stopping: gave up the VIP; waiting before stopping haproxy", "vrrp_weight_file", w.path, "delay", delay)
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// update writes the value the state calls for, if it changed. w.mu is held.
func (w *weightFile) update() {
	v, why := weightOK, ""
	switch {
	case w.closing:
		v, why = weightFault, "harender is stopping"
	case w.exited:
		v, why = weightFault, "haproxy exited"
	case w.health != "":
		v, why = weightFault, w.health
	}
	if v == w.written {
		return
	}
	if err := writeWhole(w.path, v+"\n"); err != nil {
		w.log.Error("could not write the vrrp weight file", "error", err)
		return
	}
	w.written = v
	w.log.Info("vrrp weight file written", "path", w.path, "value", v, "reason", why)
}

// writeWhole writes data to path through a temp file in the same
// directory and a rename, so that a reader never sees it half-written.
func writeWhole(path, data string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer os.Remove(f.Name()) // gone after the rename; cleans up a failure
	_, err = f.WriteString(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
