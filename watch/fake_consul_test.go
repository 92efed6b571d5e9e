package watch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
	"github.com/hashicorp/consul/api"
	"go.uber.org/goleak"
)

// An httptest stand-in for Consul, for the fault paths only (a 500, a cut
// connection, an index that goes backwards). Everything else runs against
// a real agent in integration_test.go.

// seenRequest is what the fake recorded of one request.
type seenRequest struct {
	path  string
	index uint64
	stale bool
	token string
	query string
}

// harness is a fake Consul, a client bound to it, and a Watcher. Its
// cleanup stops everything and then checks that no goroutine is left.
type harness struct {
	t      *testing.T
	client *api.Client
	w      *Watcher
	logs   *testenv.LockedBuffer

	mu   sync.Mutex
	seen []seenRequest
	// arrived is signalled (non-blocking) after each request is recorded.
	arrived chan struct{}
}

func newHarness(t *testing.T, token string, o Options, handler func(h *harness, n int, w http.ResponseWriter, r *http.Request)) *harness {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })

	h := &harness{t: t, logs: &testenv.LockedBuffer{}, arrived: make(chan struct{}, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		idx, _ := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64)
		_, stale := r.URL.Query()["stale"]
		h.mu.Lock()
		h.seen = append(h.seen, seenRequest{
			path: r.URL.Path, index: idx, stale: stale,
			token: r.Header.Get("X-Consul-Token"), query: r.URL.RawQuery,
		})
		n := len(h.seen)
		h.mu.Unlock()
		select {
		case h.arrived <- struct{}{}:
		default:
		}
		handler(h, n, w, r)
	}))
	t.Cleanup(srv.Close)

	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client, err := api.NewClient(&api.Config{
		Address:    strings.TrimPrefix(srv.URL, "http://"),
		Token:      token,
		HttpClient: &http.Client{Transport: tr},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.client = client

	o.Logger = slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.MinInterval == 0 {
		o.MinInterval = time.Millisecond
	}
	if o.Backoff == 0 {
		o.Backoff, o.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	}
	h.w = New(client, o)
	t.Cleanup(h.w.Stop)
	return h
}

func (h *harness) requests() []seenRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]seenRequest(nil), h.seen...)
}

// waitRequests waits until at least n requests have arrived.
func (h *harness) waitRequests(n int) []seenRequest {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if r := h.requests(); len(r) >= n {
			return r
		}
		select {
		case <-h.arrived:
		case <-deadline:
			h.t.Fatalf("waited for %d requests, got %d: %+v", n, len(h.requests()), h.requests())
		}
	}
}

// waitFor waits until the snapshot holds want for d.
func (h *harness) waitFor(d Dependency, want any) {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got, ok := h.w.Snapshot().Get(d); ok && fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		select {
		case <-h.w.Updates():
		case <-deadline:
			got, ok := h.w.Snapshot().Get(d)
			h.t.Fatalf("%s: waited for %v, have %v (%v)", d, want, got, ok)
		}
	}
}

// logLines decodes the JSON log records.
func (h *harness) logLines() []map[string]any {
	var out []map[string]any
	for _, line := range bytes.Split(h.logs.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			h.t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// block holds a request the way a blocking query does, until the client
// goes away.
func block(r *http.Request) {
	<-r.Context().Done()
}

// cutConnection closes the connection of a request without an answer, as
// a dying agent does.
func cutConnection(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

// writeKV answers a KV get with one pair.
func writeKV(w http.ResponseWriter, index uint64, key, value string) {
	w.Header().Set("X-Consul-Index", strconv.FormatUint(index, 10))
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `[{"Key":%q,"Value":%q,"ModifyIndex":%d}]`, key,
		base64.StdEncoding.EncodeToString([]byte(value)), index)
}

// writeNotFound answers a KV get for an absent key.
func writeNotFound(w http.ResponseWriter, index uint64) {
	w.Header().Set("X-Consul-Index", strconv.FormatUint(index, 10))
	w.WriteHeader(http.StatusNotFound)
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return ctx, cancel
}
