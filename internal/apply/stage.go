package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/renderer"
)

// Output is one rendered destination.
type Output struct {
	Dest           string
	Data           []byte
	Write          renderer.WriteOptions
	Command        []string      // run after Dest changed, as an argv
	CommandTimeout time.Duration // 0: 30s
}

// staged is an output written beside its destination, with what the
// destination held before (nil: it did not exist).
type staged struct {
	out *Output
	s   *renderer.Staged
	old []byte
}

// Commit writes every output that changed, all or nothing where HAProxy
// is concerned: HAProxy's candidate and the companion files it names are
// checked together with haproxy -c, the companions put in place first so
// that the candidate finds them, and put back if it is rejected. A
// rejected candidate is kept beside its destination. Commit then queues
// each changed output's command. It returns the destinations it changed.
func (e *Engine) Commit(ctx context.Context, outs []Output) ([]string, error) {
	changed, err := e.commit(ctx, outs)
	var ce *haproxy.CheckError
	e.writeFailed = err != nil && !errors.As(err, &ce)
	switch {
	case err == nil:
		e.setRejection("")
	case errors.As(err, &ce):
		e.m.CheckFailures.Inc()
		e.setRejection("haproxy -c rejected the candidate for " + e.o.Config)
	default:
		// A full or read-only disk may recover: ask to be woken to retry.
		e.setRejection("could not write the rendered files")
		e.after(commitRetry)
	}
	return changed, err
}

// commitRetry is how soon a commit that could not write is tried again.
const commitRetry = time.Second

// CommitFailed reports whether the last commit could not write its files
// (not a rejected candidate): the caller renders again on Wake.
func (e *Engine) CommitFailed() bool { return e.writeFailed }

func (e *Engine) commit(ctx context.Context, outs []Output) ([]string, error) {
	g := newGeneration(e.o.Config, outs)
	var all, companions []*staged
	var main *staged
	discard := func() {
		for _, st := range all {
			st.s.Discard()
		}
	}
	for i := range outs {
		o := &outs[i]
		old, err := os.ReadFile(o.Dest)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			discard()
			return nil, fmt.Errorf("read %s: %w", o.Dest, err)
		}
		if err == nil && bytes.Equal(old, o.Data) {
			// A candidate left by a run that was killed, or rejected
			// before the template was fixed, is stale now.
			if err := os.Remove(o.Dest + renderer.CandidateSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				e.log.Warn("could not remove a stale candidate", "error", err)
			}
			continue
		}
		s, err := renderer.Stage(o.Dest, o.Data, o.Write)
		if err != nil {
			discard()
			return nil, err
		}
		st := &staged{out: o, s: s, old: old}
		all = append(all, st)
		switch {
		case g != nil && o.Dest == e.o.Config:
			main = st
		case g != nil && g.files[o.Dest] != nil:
			companions = append(companions, st)
		}
	}
	if main != nil || len(companions) > 0 {
		checked := g != nil && e.prechecked == g.hash && len(companions) == 0
		if err := e.checkTogether(ctx, main, companions, checked); err != nil {
			for _, st := range all {
				if st != main {
					st.s.Discard()
				}
			}
			return nil, err
		}
	}
	var changed []string
	for _, st := range all {
		if st != main && !slices.Contains(companions, st) {
			if err := st.s.Commit(); err != nil {
				return changed, err
			}
		}
		changed = append(changed, st.out.Dest)
		e.log.Info("rendered", "destination", st.out.Dest, "hash", shortHash(st.out.Data))
		if len(st.out.Command) > 0 {
			e.cmds.queue(ctx, *st.out)
		}
	}
	if g != nil {
		if e.desired == nil || e.desired.hash != g.hash {
			e.changed = e.desired != nil || main != nil || len(companions) > 0
		}
		e.desired = g
	}
	return changed, nil
}

// checkTogether commits the companions, checks HAProxy's candidate (or
// the config on disk, when only companions changed) and commits it. On
// rejection every destination is as it was.
// checked says haproxy -c already passed these exact bytes (check_async.go).
func (e *Engine) checkTogether(ctx context.Context, main *staged, companions []*staged, checked bool) error {
	var done []*staged
	undo := func() {
		for _, st := range done {
			if err := putBack(st); err != nil {
				e.log.Error("could not put back a companion file", "destination", st.out.Dest, "error", err)
			}
		}
	}
	for _, st := range companions {
		if err := st.s.Commit(); err != nil {
			undo()
			return err
		}
		done = append(done, st)
	}
	path := e.o.Config
	if main != nil {
		path = main.s.Path
	}
	if e.hap != nil && !checked {
		if err := e.hap.Check(ctx, path); err != nil {
			undo()
			if main != nil {
				return fmt.Errorf("%s left as it was; the rejected candidate is kept at %s: %w", main.out.Dest, main.s.Path, err)
			}
			return fmt.Errorf("companion files of %s put back as they were: %w", e.o.Config, err)
		}
	}
	if main != nil {
		if err := main.s.Commit(); err != nil {
			undo()
			return err
		}
	}
	return nil
}

// putBack restores what a committed destination held before.
func putBack(st *staged) error {
	if st.old == nil {
		if err := os.Remove(st.out.Dest); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	_, err := renderer.WriteFile(st.out.Dest, st.old, st.out.Write)
	return err
}
