package watch

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff computes retry delays: base doubled per failed attempt, capped
// at max, with up to a quarter taken off at random so that many sidecars
// do not retry in step. Consecutive delays still grow until the cap,
// because three quarters of 2d is more than d.
type backoff struct {
	base, max time.Duration
}

// delay is the wait after the attempt-th consecutive failure (1-based).
func (b backoff) delay(attempt int) time.Duration {
	d := b.base
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	if d > b.max {
		d = b.max
	}
	return d - jitter(d/4)
}

// rateLimit is how long to wait before the next query of a dependency whose
// last query started elapsed ago, so that queries are at least min apart,
// plus up to a quarter of min at random. Zero once min has passed, as in
// consul-template.
func rateLimit(elapsed, min time.Duration) time.Duration {
	if elapsed >= min {
		return 0
	}
	return min - elapsed + jitter(min/4)
}

// jitter is a random duration in [0, max).
func jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return rand.N(max)
}

// sleep waits for d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
