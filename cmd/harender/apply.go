package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/renderer"
)

// writeOutputs stages every changed output, checks HAProxy's candidate
// with haproxy -c, and only then moves them all into place. When HAProxy
// rejects its candidate, nothing is written and the candidate is kept. It
// returns the destinations it changed.
func writeOutputs(ctx context.Context, cfg Config, jobs []*job, outputs [][]byte, log *slog.Logger) ([]string, error) {
	var dests []string
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
			return nil, withCode(exitConfig, err)
		}
		if j.isHAProxy(cfg.HAProxy) {
			if err := checkStaged(ctx, cfg.HAProxy.Binary, s); err != nil {
				discard()
				return nil, withCode(exitConfig, err)
			}
		}
		staged = append(staged, s)
	}
	for i, s := range staged {
		if err := s.Commit(); err != nil {
			for _, rest := range staged[i:] {
				rest.Discard()
			}
			return dests, withCode(exitConfig, err)
		}
		dests = append(dests, s.Dest)
	}
	return dests, nil
}

// checkStaged runs haproxy -c on a staged config. On rejection the
// candidate is kept, and the error says where, quoting HAProxy.
func checkStaged(ctx context.Context, binary string, s *renderer.Staged) error {
	if err := haproxy.Check(ctx, binary, s.Path); err != nil {
		return fmt.Errorf("%s left as it was; the rejected candidate is kept at %s: %w", s.Dest, s.Path, err)
	}
	return nil
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
