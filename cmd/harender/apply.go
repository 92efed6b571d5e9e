package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/renderer"
)

// written is what one write of all outputs changed.
type written struct {
	dests []string
	// haproxy is set when HAProxy's main config changed; old is its
	// previous content (nil if there was none).
	haproxy bool
	old     []byte
	hash    string
}

// writeOutputs stages every changed output, checks HAProxy's candidate
// with haproxy -c, and only then moves them all into place. When HAProxy
// rejects its candidate, nothing is written and the candidate is kept.
func writeOutputs(ctx context.Context, cfg Config, jobs []*job, outputs [][]byte, log *slog.Logger) (written, error) {
	var w written
	var staged []*renderer.Staged
	discard := func() {
		for _, s := range staged {
			s.Discard()
		}
	}
	for i, j := range jobs {
		dest, out := j.cfg.Destination, outputs[i]
		if renderer.Unchanged(dest, out) {
			log.Debug("unchanged", "destination", dest)
			continue
		}
		s, err := renderer.Stage(dest, out, writeOptions(j.cfg))
		if err != nil {
			discard()
			return w, withCode(exitConfig, err)
		}
		if j.isHAProxy(cfg.HAProxy) {
			if err := haproxy.Check(ctx, cfg.HAProxy.Binary, s.Path); err != nil {
				discard()
				return w, withCode(exitConfig, fmt.Errorf("%s left as it was; the rejected candidate is kept at %s: %w", dest, s.Path, err))
			}
			w.haproxy = true
			w.old, _ = os.ReadFile(dest)
			w.hash = shortHash(out)
		}
		staged = append(staged, s)
	}
	for i, s := range staged {
		if err := s.Commit(); err != nil {
			for _, rest := range staged[i:] {
				rest.Discard()
			}
			return w, withCode(exitConfig, err)
		}
		w.dests = append(w.dests, s.Dest)
	}
	return w, nil
}

// reload reloads HAProxy through the master socket and confirms it.
func reload(ctx context.Context, cfg Config) error {
	if cfg.HAProxy.MasterSocket == "" {
		return withCode(exitConfig, fmt.Errorf("reload: no master socket: set haproxy { master_socket = ... } or --master-socket"))
	}
	m := &haproxy.Master{Path: cfg.HAProxy.MasterSocket}
	if _, err := m.Reload(ctx); err != nil {
		return withCode(exitUnreachable, fmt.Errorf("reload: %w", err))
	}
	return nil
}
