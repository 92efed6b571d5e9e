package watch

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
	"github.com/hashicorp/consul/api"
)

// silentServer is a Consul that a partition cut off: it accepts requests
// and never answers, or with body=true sends the headers and then goes
// silent. It lets go of its handlers when the test ends.
func silentServer(t *testing.T, body bool) string {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if body {
			w.Header().Set("X-Consul-Index", "7")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`["dc`))
			w.(http.Flusher).Flush()
		}
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestBlockingWait(t *testing.T) {
	tests := []struct {
		query    string
		wait     time.Duration
		blocking bool
	}{
		{"", 0, false},
		{"wait=5000ms", 0, false}, // no index: Consul answers at once
		{"index=0&wait=5000ms", 0, false},
		{"index=12&wait=5000ms", 5 * time.Second, true},
		{"index=12", 5 * time.Minute, true}, // Consul's default wait
		{"index=12&wait=1h", 10 * time.Minute, true},
		{"index=12&wait=junk", 5 * time.Minute, true},
		{"index=x&wait=5s", 0, false},
	}
	for _, tc := range tests {
		q, _ := url.ParseQuery(tc.query)
		wait, blocking := blockingWait(q)
		if wait != tc.wait || blocking != tc.blocking {
			t.Errorf("%q: (%s, %v), want (%s, %v)", tc.query, wait, blocking, tc.wait, tc.blocking)
		}
	}
}

// A request to a Consul that went silent fails within its bound, with a
// *TimeoutError that says so, instead of hanging.
func TestClientTimeoutOnSilentConsul(t *testing.T) {
	clearConsulEnv(t)
	const timeout = 150 * time.Millisecond
	tests := []struct {
		name      string
		body      bool
		q         api.QueryOptions
		wantLimit time.Duration
	}{
		{"non-blocking", false, api.QueryOptions{}, timeout},
		{"blocking", false, api.QueryOptions{WaitIndex: 3, WaitTime: 320 * time.Millisecond}, 320*time.Millisecond + 20*time.Millisecond + timeout},
		{"body cut short", true, api.QueryOptions{WaitIndex: 3, WaitTime: 320 * time.Millisecond}, 320*time.Millisecond + 20*time.Millisecond + timeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(ClientConfig{Address: silentServer(t, tc.body), Token: testToken, Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			d, _ := NewCatalogServicesQuery("")
			_, _, err = d.Fetch(t.Context(), c, &tc.q)
			took := time.Since(start)
			var te *TimeoutError
			if !errors.As(err, &te) {
				t.Fatalf("after %s: error %v, want a *TimeoutError", took, err)
			}
			if te.Limit != tc.wantLimit {
				t.Errorf("limit %s, want %s", te.Limit, tc.wantLimit)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not unwrap to context.DeadlineExceeded", err)
			}
			// Loose: the machine is shared. Without a bound it would hang
			// until the test's own deadline.
			if took < tc.wantLimit || took > tc.wantLimit+5*time.Second {
				t.Errorf("failed after %s, want just after %s", took, tc.wantLimit)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

// Shutdown is not a timeout: a cancelled request says context.Canceled.
func TestClientCancelIsNotTimeout(t *testing.T) {
	clearConsulEnv(t)
	c, err := NewClient(ClientConfig{Address: silentServer(t, false), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	d, _ := NewCatalogServicesQuery("")
	_, _, err = d.Fetch(ctx, c, &api.QueryOptions{WaitIndex: 3, WaitTime: time.Minute})
	var te *TimeoutError
	if err == nil || errors.As(err, &te) {
		t.Errorf("cancelled request: error %v, want the context's, not a *TimeoutError", err)
	}
}

// The Watcher shows a silent Consul: a Warn per failed attempt with its
// backoff, and an observed error per request.
func TestWatcherReportsSilentConsul(t *testing.T) {
	clearConsulEnv(t)
	c, err := NewClient(ClientConfig{Address: silentServer(t, false), Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.LockedBuffer{}
	var errs atomic.Int32
	w := New(c, Options{
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
		Backoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, WaitTime: 100 * time.Millisecond,
		Observe: func(_ string, err error) {
			var te *TimeoutError
			if errors.As(err, &te) {
				errs.Add(1)
			}
		},
	})
	d, _ := NewCatalogServicesQuery("")
	w.Watch(t.Context(), []Dependency{d})
	for deadline := time.Now().Add(10 * time.Second); errs.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	w.Stop()
	if errs.Load() < 2 {
		t.Fatalf("%d timeouts observed, want 2 or more\n%s", errs.Load(), logs)
	}
	if !strings.Contains(logs.String(), "attempt=2") || !strings.Contains(logs.String(), "no answer from consul within") {
		t.Errorf("log lacks the retries and their cause:\n%s", logs)
	}
}
