package watch

// Test setup shared by the watch tests: the agent tests' watcher, the fake
// health/service answers, and reading what a watcher delivered and logged.

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
	"github.com/hashicorp/consul/api"
	"go.uber.org/goleak"
)

// agentTest skips a test against a real agent in -short mode, and checks,
// after every other cleanup of the test, that it left no goroutine.
func agentTest(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // runs last
}

// watchWeb starts a Watcher on client with o, logging JSON at debug level
// into the harness, and has it watch health.service web. The harness is
// for waitPorts and logLines; the Watcher stops when the test ends.
func watchWeb(t *testing.T, client *api.Client, o Options) (*harness, *HealthServiceQuery) {
	t.Helper()
	h := &harness{t: t, logs: &testenv.LockedBuffer{}}
	o.Logger = slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.w = New(client, o)
	t.Cleanup(h.w.Stop)
	q := mustWeb(t)
	h.w.Watch(t.Context(), []Dependency{q})
	return h, q
}

// writeWeb answers health/service/web with one passing instance per port.
func writeWeb(w http.ResponseWriter, index uint64, knownLeader bool, ports ...int) {
	var entries []string
	for i, p := range ports {
		entries = append(entries, fmt.Sprintf(
			`{"Node":{"Node":"n%d","Address":"10.0.0.%d"},"Service":{"ID":"web-%d","Service":"web","Port":%d},"Checks":[{"CheckID":"serfHealth","Status":"passing"}]}`,
			i+1, i+1, i+1, p))
	}
	w.Header().Set("X-Consul-Index", strconv.FormatUint(index, 10))
	w.Header().Set("X-Consul-KnownLeader", strconv.FormatBool(knownLeader))
	// Without LastContact the api package stops parsing the headers
	// before it reaches KnownLeader.
	w.Header().Set("X-Consul-LastContact", "0")
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "[%s]", strings.Join(entries, ","))
}

// waitWait holds a request for its wait parameter, as Consul does when
// nothing changes; it reports false if the client went away first.
func waitWait(r *http.Request) bool {
	d, err := time.ParseDuration(r.URL.Query().Get("wait"))
	if err != nil {
		d = 5 * time.Minute // Consul's default
	}
	return after(r, d)
}

// after answers a request once d has passed, as a blocking query does when
// something changes; it reports false if the client went away first.
func after(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func mustWeb(t *testing.T) *HealthServiceQuery {
	t.Helper()
	q, err := NewHealthServiceQuery("web")
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// ports lists the ports of a health.service answer.
func ports(v any) string {
	list, _ := v.([]*HealthService)
	var s []string
	for _, h := range list {
		s = append(s, strconv.Itoa(h.Port))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// waitPorts waits until the snapshot holds the ports want for d.
func (h *harness) waitPorts(d Dependency, want string) {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		got, ok := h.w.Snapshot().Get(d)
		if ok && ports(got) == want {
			return
		}
		select {
		case <-h.w.Updates():
		case <-deadline:
			h.t.Fatalf("%s: waited for ports %s, have %s (%v)\n%s", d, want, ports(got), ok, h.logs)
		}
	}
}

// delivered lists the item counts of every update delivered for d.
func delivered(logs []map[string]any, d Dependency) []int {
	var out []int
	for _, l := range logs {
		if l["msg"] == "dependency updated" && l["dependency"] == d.String() {
			out = append(out, int(l["items"].(float64)))
		}
	}
	return out
}

// logged returns the log records with this message.
func logged(logs []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range logs {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// guardLog records Options.Guarded calls.
type guardLog struct {
	mu    sync.Mutex
	calls []string
}

func (g *guardLog) record(rule, dep string, active bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, fmt.Sprintf("%s %s %v", rule, dep, active))
}

func (g *guardLog) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Join(g.calls, "; ")
}
