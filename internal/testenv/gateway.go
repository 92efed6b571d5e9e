package testenv

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// Gateway is one gateway instance: an HTTP server on loopback that answers
// "hello from ID", registered in Consul with an HTTP health check. GET
// /?delay=2s answers after 2s, so that a test can keep requests in flight
// on it; Holding counts them.
type Gateway struct {
	mu      sync.Mutex
	held    map[time.Duration]int // requests waiting out their delay, by delay
	ID      string
	Addr    *net.TCPAddr
	healthy atomic.Bool
	srv     *http.Server
	consul  *Consul
	reg     *api.AgentServiceRegistration
}

// StartGateway serves and registers one instance of service; with a nil
// Consul it only serves.
func StartGateway(t testing.TB, c *Consul, service, id string, tags ...string) *Gateway {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{ID: id, Addr: ln.Addr().(*net.TCPAddr), consul: c, held: map[time.Duration]int{}}
	g.healthy.Store(true)
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if !g.healthy.Load() {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil && d > 0 {
			g.hold(d, 1)
			defer g.hold(d, -1)
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, "hello from %s\n", id)
	})
	g.srv = &http.Server{Handler: mux}
	go g.srv.Serve(ln)
	t.Cleanup(func() { g.srv.Close() })
	g.reg = &api.AgentServiceRegistration{
		ID: id, Name: service, Address: "127.0.0.1", Port: g.Addr.Port, Tags: tags,
		Check: &api.AgentServiceCheck{
			HTTP:     "http://127.0.0.1:" + strconv.Itoa(g.Addr.Port) + "/health",
			Interval: "500ms", Timeout: "1s", Status: api.HealthPassing,
		},
	}
	if c != nil { // nil: an instance announced some other way (Serf)
		g.Register(t)
	}
	return g
}

// Register registers the instance (again, after an agent restart).
func (g *Gateway) Register(t testing.TB) {
	t.Helper()
	if err := g.consul.Client.Agent().ServiceRegister(g.reg); err != nil {
		t.Fatalf("register %s: %v", g.ID, err)
	}
}

// Deregister removes the instance from Consul; it keeps serving.
func (g *Gateway) Deregister(t testing.TB) {
	t.Helper()
	if err := g.consul.Client.Agent().ServiceDeregister(g.ID); err != nil {
		t.Fatalf("deregister %s: %v", g.ID, err)
	}
}

// SetHealthy makes the health check pass or fail.
func (g *Gateway) SetHealthy(ok bool) { g.healthy.Store(ok) }

// Stop stops serving, as a crashed instance would; it stays registered.
func (g *Gateway) Stop() { g.srv.Close() }

func (g *Gateway) hold(d time.Duration, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held[d] += n
}

// Holding is how many requests that asked for a delay of at least d are
// waiting it out now: requests in flight that HAProxy cannot take back.
func (g *Gateway) Holding(d time.Duration) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for delay, c := range g.held {
		if delay >= d {
			n += c
		}
	}
	return n
}
