package watch

import (
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	b := backoff{base: 250 * time.Millisecond, max: 30 * time.Second}
	prev := time.Duration(0)
	for attempt := 1; attempt <= 100; attempt++ {
		d := b.delay(attempt)
		nominal := min(b.base<<min(attempt-1, 20), b.max)
		if d > nominal || d < nominal*3/4 {
			t.Fatalf("attempt %d: delay %v outside [%v, %v]", attempt, d, nominal*3/4, nominal)
		}
		if nominal < b.max && d <= prev {
			t.Fatalf("attempt %d: delay %v did not grow from %v", attempt, d, prev)
		}
		prev = d
	}
}

func TestRateLimit(t *testing.T) {
	min := 100 * time.Millisecond
	if d := rateLimit(150*time.Millisecond, min); d != 0 {
		t.Errorf("after the interval: wait %v, want 0", d)
	}
	for range 100 {
		d := rateLimit(30*time.Millisecond, min)
		if d < 70*time.Millisecond || d >= 95*time.Millisecond {
			t.Fatalf("wait %v outside [70ms, 95ms)", d)
		}
	}
}
