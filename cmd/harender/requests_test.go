package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/harender/harender/internal/testenv"
)

// TestRenderRequestCount counts the HTTP requests one `harender render`
// sends to Consul for a template that ranges over N services (N = 10, 100,
// 1000, one instance each), through a counting reverse proxy in front of a
// real Consul agent: what a user runs, measured at the wire.
//
// What must hold: the render asks catalog/services once, then
// health/service once per service in the catalog (the N services plus
// Consul's own "consul"), each without an index (a first read), and
// nothing else: a one-shot render starts no blocking re-query. The agent
// has Consul's default limit of 200 connections per client, which a render
// that held a blocking query per dependency would exceed at 1000.
func TestRenderRequestCount(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Consul agent and registers 1000 services")
	}
	consul := testenv.StartConsul(t)
	proxy := newCountingProxy(t, consul.Addr)
	dir := t.TempDir()
	src := writeFile(t, filepath.Join(dir, "services.tmpl"),
		"{{ range services }}{{ .Name }}:{{ range service .Name }} {{ .Address }}:{{ .Port }}{{ end }}\n{{ end }}")

	registered := 0
	for _, n := range []int{10, 100, 1000} {
		start := time.Now()
		registerServices(t, consul.Client, registered, n)
		registered = n
		catalogSize := waitCatalogQuiet(t, consul.Client, n+1) // + Consul's own "consul"
		t.Logf("N=%d: registered and settled in %v; catalog has %d services", n, time.Since(start).Round(time.Millisecond), catalogSize)

		t.Run(fmt.Sprintf("services=%d", n), func(t *testing.T) {
			proxy.reset()
			dest := filepath.Join(dir, fmt.Sprintf("out-%d", n))
			begin := time.Now()
			code, _, stderr := harender(t, "render", "-t", src+":"+dest, "--consul-addr", proxy.addr, "--timeout", "90s",
				"--log-level", "debug")
			// collect logs this once per render pass that still lacks data.
			passes := strings.Count(stderr, `msg="waiting for data"`) + 1
			took := time.Since(begin)
			proxy.drain()
			c := proxy.counts()
			t.Logf("N=%d services (%d in catalog): render took %v in %d passes; %d requests: %d first reads %v, %d blocking re-queries %v; "+
				"%d failed, %d cancelled by the render's end",
				n, catalogSize, took.Round(time.Millisecond), passes, c.total(), c.firstTotal(), c.first, c.blockingTotal(), c.blocking,
				c.failed, c.cancelled)
			if code != exitOK {
				t.Fatalf("render: exit %d\n%s", code, lastLines(stderr, 40))
			}
			out := readRendered(t, dest)
			if lines := strings.Count(out, "\n"); lines != catalogSize {
				t.Errorf("rendered %d lines, want one per service (%d)", lines, catalogSize)
			}
			if want := fmt.Sprintf("svc-%04d: 10.1.%d.%d:%d\n", n-1, (n-1)/250, (n-1)%250+1, 20000+n-1); !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}

			if c.failed != 0 {
				t.Errorf("%d requests failed (retries inflate the count); stderr:\n%s", c.failed, lastLines(stderr, 20))
			}
			wantFirst := map[string]int{"catalog/services": 1, "health/service": catalogSize}
			if !sameCounts(c.first, wantFirst) {
				t.Errorf("first reads = %v, want exactly %v", c.first, wantFirst)
			}
			// Each of the 1 + catalogSize watch loops may have begun its
			// blocking re-query; a few more allow for an index that moved.
			if c.blockingTotal() != 0 {
				t.Errorf("%d blocking re-queries, want none from a one-shot render", c.blockingTotal())
			}
			if extra := c.total() - c.firstTotal() - c.blockingTotal(); extra != 0 {
				t.Errorf("%d requests to other endpoints: %v", extra, c.other)
			}
		})
	}
}

// registerServices registers services svc-FROM … svc-(TO-1) in the
// catalog, one instance each on an external node and no checks (so
// passing), with several registrations in flight. The catalog endpoint is
// used rather than the agent's: it is several times faster, and the agent's
// anti-entropy leaves other nodes alone.
func registerServices(t *testing.T, c *api.Client, from, to int) {
	t.Helper()
	ids := make(chan int)
	errs := make(chan error, to-from)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				_, err := c.Catalog().Register(&api.CatalogRegistration{
					Node: "ext-node", Address: "10.1.0.1", SkipNodeUpdate: true,
					Service: &api.AgentService{
						ID: fmt.Sprintf("svc-%04d-1", i), Service: fmt.Sprintf("svc-%04d", i),
						Address: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), Port: 20000 + i,
					},
				}, nil)
				if err != nil {
					errs <- fmt.Errorf("register svc-%04d: %w", i, err)
				}
			}
		}()
	}
	for i := from; i < to; i++ {
		ids <- i
	}
	close(ids)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// waitCatalogQuiet waits until the catalog lists want services and its
// index has not moved for a second, so that the render measures reads of a
// catalog at rest. It returns the number of services.
func waitCatalogQuiet(t *testing.T, c *api.Client, want int) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last uint64
	var since time.Time
	for time.Now().Before(deadline) {
		svcs, meta, err := c.Catalog().Services(nil)
		switch {
		case err != nil || len(svcs) != want:
			last = 0
		case meta.LastIndex != last:
			last, since = meta.LastIndex, time.Now()
		case time.Since(since) >= time.Second:
			return len(svcs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("catalog did not settle at %d services in 60s", want)
	return 0
}

// countingProxy forwards to Consul and counts every request by endpoint
// and kind.
type countingProxy struct {
	addr     string
	inFlight atomic.Int64

	mu sync.Mutex
	c  requestCounts
}

type requestCounts struct {
	first, blocking, other map[string]int // by endpoint, at arrival
	failed, cancelled      int            // by outcome
}

func (c requestCounts) firstTotal() int    { return sumCounts(c.first) }
func (c requestCounts) blockingTotal() int { return sumCounts(c.blocking) }
func (c requestCounts) total() int {
	return sumCounts(c.first) + sumCounts(c.blocking) + sumCounts(c.other)
}

func newCountingProxy(t *testing.T, consulAddr string) *countingProxy {
	target := &url.URL{Scheme: "http", Host: consulAddr}
	p := &countingProxy{}
	p.reset()
	rp := httputil.NewSingleHostReverseProxy(target)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = runtime.GOMAXPROCS(0) + 1 // as the Consul API client's pooled transport
	rp.Transport = tr
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		p.mu.Lock()
		if r.Context().Err() != nil || errors.Is(err, context.Canceled) {
			p.c.cancelled++ // a blocking query the render's end stopped
		} else {
			p.c.failed++
			t.Logf("proxy: %s %s: %v", r.Method, r.URL.Path, err)
		}
		p.mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode >= 400 {
			p.mu.Lock()
			p.c.failed++
			p.mu.Unlock()
			t.Logf("proxy: %s %s: consul answered %s", resp.Request.Method, resp.Request.URL.Path, resp.Status)
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.inFlight.Add(1)
		defer p.inFlight.Add(-1)
		endpoint := strings.TrimPrefix(r.URL.Path, "/v1/")
		// The endpoint without its argument: health/service/svc-0001 →
		// health/service.
		if parts := strings.SplitN(endpoint, "/", 3); len(parts) == 3 {
			endpoint = parts[0] + "/" + parts[1]
		}
		p.mu.Lock()
		switch {
		case endpoint != "catalog/services" && endpoint != "health/service":
			p.c.other[r.Method+" "+r.URL.Path]++
		case r.URL.Query().Get("index") != "":
			p.c.blocking[endpoint]++
		default:
			p.c.first[endpoint]++
		}
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.addr = srv.Listener.Addr().String()
	return p
}

func (p *countingProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.c = requestCounts{first: map[string]int{}, blocking: map[string]int{}, other: map[string]int{}}
}

// drain waits for the requests in flight to end: the render has cancelled
// its blocking queries by the time it returns, but the proxy may not have
// seen that yet.
func (p *countingProxy) drain() {
	for deadline := time.Now().Add(5 * time.Second); p.inFlight.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *countingProxy) counts() requestCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.c
	c.first, c.blocking, c.other = copyCounts(c.first), copyCounts(c.blocking), copyCounts(c.other)
	return c
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func readRendered(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
