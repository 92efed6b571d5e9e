package haproxy

import (
	"context"
	"fmt"
	"time"
)

// defaultMasterRetry is how long Master keeps retrying a refused connect.
const defaultMasterRetry = 2 * time.Second

// Master is a client of HAProxy's master CLI (-W -S path).
type Master struct {
	// Path is the master socket's file.
	Path string
	// Retry is the total time to keep retrying a refused or absent socket; 0 means 2s.
	Retry time.Duration
}

// Command sends one command to the master CLI and returns its whole reply.
func (m *Master) Command(ctx context.Context, cmd string) (string, error) {
	retry := m.Retry
	if retry <= 0 {
		retry = defaultMasterRetry
	}
	reply, err := exchange(ctx, m.Path, cmd, retry)
	if err != nil {
		return reply, fmt.Errorf("master cli: %w", err)
	}
	return reply, nil
}
