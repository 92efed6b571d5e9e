package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// ErrSocket marks a CLI socket that is missing or refusing connections.
var ErrSocket = errors.New("haproxy socket unavailable")

// defaultTimeout bounds one socket exchange when ctx carries no deadline.
const defaultTimeout = 5 * time.Second

// exchange sends one command on a unix CLI socket and returns the whole reply.
// It retries connecting while the socket is absent or refusing, for up to
// retry in total. A dial failure wraps ErrSocket; the path is always named.
func exchange(ctx context.Context, path, cmd string, retry time.Duration) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	conn, err := dialRetry(ctx, path, retry)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	// Unblock reads and writes as soon as ctx is done.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", fmt.Errorf("write %q to %s: %w", cmd, path, ctxErr(ctx, err))
	}
	// The master CLI of 2.6 keeps the connection open until the client has
	// finished writing; half-closing makes every version answer and close.
	if err := conn.CloseWrite(); err != nil {
		return "", fmt.Errorf("close write on %s: %w", path, ctxErr(ctx, err))
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		return string(b), fmt.Errorf("read reply to %q from %s: %w", cmd, path, ctxErr(ctx, err))
	}
	return string(b), nil
}

// dialRetry connects to a unix socket, retrying transient failures with a
// small backoff until retry is spent or ctx is done.
func dialRetry(ctx context.Context, path string, retry time.Duration) (*net.UnixConn, error) {
	var d net.Dialer
	start := time.Now()
	backoff := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		c, err := d.DialContext(ctx, "unix", path)
		if err == nil {
			return c.(*net.UnixConn), nil
		}
		transient := errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
		if !transient || ctx.Err() != nil || time.Since(start)+backoff > retry {
			return nil, fmt.Errorf("dial %s (attempt %d): %w: %w", path, attempt, ErrSocket, ctxErr(ctx, err))
		}
		if err := sleepCtx(ctx, backoff); err != nil {
			return nil, fmt.Errorf("dial %s (attempt %d): %w: %w", path, attempt, ErrSocket, err)
		}
		backoff = min(backoff*2, 50*time.Millisecond)
	}
}

// ctxErr prefers the context's error over the I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

// sleepCtx waits for d, or returns ctx's error if ctx is done first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
