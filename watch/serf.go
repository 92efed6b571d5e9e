package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	serf "github.com/hashicorp/serf/client"
)

// serfEvents are the member events that wake serfMembers queries. User
// events and queries are not membership and are not asked for.
const serfEvents = "member-join,member-leave,member-failed,member-update,member-reap"

// DefaultSerfAddr is the Serf agent's own default RPC address.
const DefaultSerfAddr = "127.0.0.1:7373"

// SerfConfig says how to reach one Serf agent's RPC endpoint.
type SerfConfig struct {
	// Addr is the agent's RPC address (its -rpc-addr). Default
	// DefaultSerfAddr.
	Addr string
	// AuthKeyFile, if set, names a file holding the agent's RPC auth key
	// (its rpc_auth). It is read at every connection, so a rotated key is
	// used from the next one on. The key is never logged.
	AuthKeyFile string
	// Timeout bounds a connection attempt and every RPC. Default 5s.
	Timeout time.Duration
	// Logger receives one Warn when the agent goes away and one Info when
	// it is back. Nil discards.
	Logger *slog.Logger
	// Up, if set, is called with true when a connection is made and false
	// when it is lost or cannot be made.
	Up func(bool)
}

// Serf is one RPC connection to one Serf agent, shared by every
// serfMembers dependency of a Watcher. It is made at the first query and
// made again, at the next query, when it is lost; the Watcher's retry
// loop is its backoff. Every member event on the connection's event
// stream moves its index, which wakes the queries waiting on it.
type Serf struct {
	cfg SerfConfig
	log *slog.Logger

	mu     sync.Mutex
	conn   *serf.RPCClient
	index  uint64        // moves on every event and every (re)connection
	wake   chan struct{} // closed when index moves
	down   bool          // the agent is known to be away (logged once)
	closed bool
}

// NewSerf makes a Serf for the agent cfg names. Nothing connects until the
// first query.
func NewSerf(cfg SerfConfig) *Serf {
	if cfg.Addr == "" {
		cfg.Addr = DefaultSerfAddr
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Serf{cfg: cfg, log: log.With("serf_rpc_addr", cfg.Addr), index: 1, wake: make(chan struct{})}
}

// Addr is the agent's RPC address.
func (s *Serf) Addr() string { return s.cfg.Addr }

// Close closes the connection; queries fail from then on.
func (s *Serf) Close() {
	s.mu.Lock()
	s.closed = true
	c := s.conn
	s.conn = nil
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

var errSerfClosed = errors.New("serf connection closed")

// connection returns the open connection, making one if there is none,
// with the index and the channel that its next event closes.
func (s *Serf) connection() (*serf.RPCClient, uint64, <-chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, nil, errSerfClosed
	}
	if s.conn != nil {
		return s.conn, s.index, s.wake, nil
	}
	c, events, err := s.dial()
	if err != nil {
		if !s.down {
			s.down = true
			s.log.Warn("serf agent unreachable; its last members stay rendered, retrying with backoff", "error", err)
		}
		s.up(false)
		return nil, 0, nil, err
	}
	if s.down {
		s.log.Info("serf agent reachable again")
	}
	s.down = false
	s.conn = c
	s.bump()
	s.up(true)
	go s.drain(c, events)
	return c, s.index, s.wake, nil
}

// dial connects, authenticates and subscribes to member events.
func (s *Serf) dial() (*serf.RPCClient, chan map[string]any, error) {
	key, err := s.authKey()
	if err != nil {
		return nil, nil, err
	}
	c, err := serf.ClientFromConfig(&serf.Config{Addr: s.cfg.Addr, AuthKey: key, Timeout: s.cfg.Timeout})
	if err != nil {
		return nil, nil, fmt.Errorf("serf agent %s: %w", s.cfg.Addr, err)
	}
	// The client drops an event when this is full; one event is enough to
	// wake the queries, and drain reads them as they come.
	events := make(chan map[string]any, 256)
	if _, err := c.Stream(serfEvents, events); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("serf agent %s: stream %s: %w", s.cfg.Addr, serfEvents, err)
	}
	return c, events, nil
}

// authKey reads the RPC auth key. Errors name the file, never its text.
func (s *Serf) authKey() (string, error) {
	if s.cfg.AuthKeyFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(s.cfg.AuthKeyFile)
	if err != nil {
		return "", fmt.Errorf("serf rpc_auth_file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", fmt.Errorf("serf rpc_auth_file %s is empty", s.cfg.AuthKeyFile)
	}
	return key, nil
}

// drain moves the index on every event of c, until c's stream ends.
func (s *Serf) drain(c *serf.RPCClient, events <-chan map[string]any) {
	for range events {
		s.mu.Lock()
		if s.conn == c {
			s.bump()
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c {
		return // closed on purpose, or replaced
	}
	s.conn = nil
	s.bump()
	if !s.closed && !s.down {
		s.down = true
		s.log.Warn("serf agent connection lost; its last members stay rendered, reconnecting with backoff")
	}
	s.up(false)
}

// drop closes c after a failed or stuck RPC; drain then forgets it.
func (s *Serf) drop(c *serf.RPCClient) { c.Close() }

// bump moves the index and wakes the waiting queries. s.mu is held.
func (s *Serf) bump() {
	s.index++
	close(s.wake)
	s.wake = make(chan struct{})
}

func (s *Serf) up(ok bool) {
	if s.cfg.Up != nil {
		s.cfg.Up(ok)
	}
}

// members asks the agent for the alive members whose tags match tags
// (anchored regular expressions), within the timeout.
func (s *Serf) members(ctx context.Context, c *serf.RPCClient, tags map[string]string) ([]serf.Member, error) {
	type answer struct {
		ms  []serf.Member
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		ms, err := c.MembersFiltered(tags, "alive", "")
		ch <- answer{ms, err}
	}()
	t := time.NewTimer(s.cfg.Timeout)
	defer t.Stop()
	select {
	case a := <-ch:
		if a.err != nil {
			if c.IsClosed() {
				s.drop(c)
			}
			return nil, fmt.Errorf("serf agent %s: members: %w", s.cfg.Addr, a.err)
		}
		return a.ms, nil
	case <-t.C:
		s.drop(c)
		return nil, fmt.Errorf("serf agent %s: members: no answer within %s", s.cfg.Addr, s.cfg.Timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
