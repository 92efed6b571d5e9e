package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

func cmdProxy(args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:28501", "listen address")
	target := fs.String("target", "127.0.0.1:28500", "Consul HTTP address")
	logq := fs.Int("logq", 0, "print the first N request URIs to stderr (to see the wait= used)")
	fs.Parse(args)
	tu, _ := url.Parse("http://" + *target)
	rp := httputil.NewSingleHostReverseProxy(tu)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 4096, 4096
	rp.Transport = tr
	rp.FlushInterval = -1
	var mu sync.Mutex
	counts := map[string]int{}
	since := time.Now()
	// Per path: when the last request arrived, and the intervals between
	// consecutive requests (a blocking query's period). They give a
	// steady-state rate that does not depend on where the window falls:
	// at start every query begins at once, so their periods are in phase.
	lastAt := map[string]time.Time{}
	ivSum := map[string]time.Duration{}
	ivN := map[string]int{}
	dump := func(w io.Writer) {
		mu.Lock()
		defer mu.Unlock()
		keys := make([]string, 0, len(counts))
		total := 0
		for k, v := range counts {
			keys = append(keys, k)
			total += v
		}
		sort.Slice(keys, func(a, b int) bool {
			return counts[keys[a]] > counts[keys[b]] || counts[keys[a]] == counts[keys[b]] && keys[a] < keys[b]
		})
		el := time.Since(since)
		fmt.Fprintf(w, "total=%d seconds=%.1f per_min=%.1f paths=%d\n", total, el.Seconds(), float64(total)/el.Minutes(), len(keys))
		var rate float64
		var paths, nIv int
		var sumIv time.Duration
		for k, n := range ivN {
			if n > 0 {
				mean := ivSum[k] / time.Duration(n)
				rate += time.Minute.Seconds() / mean.Seconds()
				paths++
				nIv += n
				sumIv += ivSum[k]
			}
		}
		if paths > 0 {
			fmt.Fprintf(w, "steady_state_per_min=%.1f (sum over %d paths of 60s/mean interval between requests; %d intervals, mean %.1fs)\n",
				rate, paths, nIv, (sumIv / time.Duration(nIv)).Seconds())
		}
		// group by endpoint: path with the last segment replaced by * when it
		// names a service or key
		groups := map[string]int{}
		for k, v := range counts {
			g := k
			for _, pre := range []string{"/v1/health/service/", "/v1/catalog/service/", "/v1/kv/"} {
				if strings.HasPrefix(k, pre) {
					g = pre + "*"
				}
			}
			groups[g] += v
		}
		for g, v := range groups {
			fmt.Fprintf(w, "  endpoint %-28s %d\n", g, v)
		}
		for i, k := range keys {
			if i == 5 {
				break
			}
			fmt.Fprintf(w, "  path %-40s %d\n", k, counts[k])
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/__bench/counts", func(w http.ResponseWriter, r *http.Request) { dump(w) })
	mux.HandleFunc("/__bench/reset", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		counts = map[string]int{}
		ivSum, ivN = map[string]time.Duration{}, map[string]int{}
		since = time.Now()
		mu.Unlock()
		fmt.Fprintln(w, "reset")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		counts[r.URL.Path]++
		now := time.Now()
		if t, ok := lastAt[r.URL.Path]; ok && t.After(since) {
			ivSum[r.URL.Path] += now.Sub(t)
			ivN[r.URL.Path]++
		}
		lastAt[r.URL.Path] = now
		if *logq > 0 {
			*logq--
			fmt.Fprintln(os.Stderr, "request", r.URL.RequestURI())
		}
		mu.Unlock()
		rp.ServeHTTP(w, r)
	})
	srv := &http.Server{Addr: *listen, Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		dump(os.Stderr)
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}
