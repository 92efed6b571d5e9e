package testenv

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// BusyGateway is a Gateway whose answers can take time, so that requests
// are in flight on its keep-alive connections when it fails its check:
// GET /?delay=2s answers "hello from ID" after 2s. It counts the requests
// that are waiting out their delay, by delay.
type BusyGateway struct {
	*Gateway
	mu   sync.Mutex
	held map[time.Duration]int // requests waiting, by the delay they asked for
}

// StartBusyGateway serves and registers one instance of service, as
// StartGateway does, with answers delayed as the request asks.
func StartBusyGateway(t testing.TB, c *Consul, service, id string, tags ...string) *BusyGateway {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &BusyGateway{Gateway: &Gateway{ID: id, Addr: ln.Addr().(*net.TCPAddr), consul: c}, held: map[time.Duration]int{}}
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
	g.Register(t)
	return g
}

func (g *BusyGateway) hold(d time.Duration, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held[d] += n
}

// Holding is how many requests that asked for a delay of at least d are
// waiting it out now: requests in flight that HAProxy cannot take back.
func (g *BusyGateway) Holding(d time.Duration) int {
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
