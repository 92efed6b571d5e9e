package watch

import "context"

// observerKey carries the Watcher's Observe hook to the Fetch methods, so
// that it is called once per HTTP request, including the extra requests a
// dependency makes (agent/self, per-datacenter probes).
type observerKey struct{}

func withObserver(ctx context.Context, fn func(endpoint string, err error)) context.Context {
	if fn == nil {
		return ctx
	}
	return context.WithValue(ctx, observerKey{}, fn)
}

// observe reports one finished request to the hook in ctx, if any.
func observe(ctx context.Context, endpoint string, err error) {
	if fn, ok := ctx.Value(observerKey{}).(func(string, error)); ok {
		fn(endpoint, err)
	}
}
