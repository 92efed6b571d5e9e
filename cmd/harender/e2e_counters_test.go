package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
)

// countedRows are the show stat rows whose request totals must never go
// down: the frontend and the backend of the gateway template.
var countedRows = []string{"gateway/FRONTEND", "gateway/BACKEND"}

// TestRunCountersSurviveReloads is the counter test of issue 11: under wrk
// load, ten template edits each cost a reload, and the request totals of
// the frontend and the backend (show stat req_tot), read every 20ms
// throughout, never go down. It runs on every HAProxy in HAPROXY_BINS that
// has shm-stats-file (3.4); locally none skips, under CI=true it fails.
func TestRunCountersSurviveReloads(t *testing.T) {
	if testing.Short() {
		t.Skip("10 reloads under wrk load")
	}
	testenv.Require(t, "wrk", os.Getenv("WRK_BIN"), "wrk")
	ran := false
	for _, bin := range testenv.HAProxyBins() {
		if _, err := os.Stat(bin); err != nil {
			continue
		}
		v, err := haproxy.BinaryVersion(t.Context(), bin)
		if err != nil || !v.Has(haproxy.FeatureShmStats) {
			continue
		}
		ran = true
		t.Run(filepath.Base(bin), func(t *testing.T) { countersSurviveReloads(t, bin) })
	}
	if !ran {
		testenv.Require(t, "an HAProxy with shm-stats-file (3.4) in HAPROXY_BINS", filepath.Join(testenv.RepoBin(), "haproxy-3.4"))
		t.Skip("no HAProxy in HAPROXY_BINS has shm-stats-file; set HAPROXY_BINS to include bin/haproxy-3.4")
	}
}

func countersSurviveReloads(t *testing.T, bin string) {
	const reloads = 10
	consul, _ := startGateways(t, 2)
	s, src := runSetup(t, consul.Addr, bin, "")
	r, url := startServing(t, s, 2)
	cfg, _ := os.ReadFile(s.haproxyCfg)
	shm := regexp.MustCompile(`(?m)^\s+shm-stats-file (\S+)$`).FindSubmatch(cfg)
	if shm == nil || !regexp.MustCompile(`(?m)^\s+guid be:gateway$`).Match(cfg) {
		t.Fatalf("the rendered config has no shm-stats-file or no backend guid:\n%s", cfg)
	}
	// HAProxy leaves the file behind on purpose (counters outlive a
	// restart too); the test's is of no use after it.
	t.Cleanup(func() { os.Remove(string(shm[1])) })
	master := &haproxy.Master{Path: s.master}
	before, err := master.ShowProc(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	wrk := testenv.StartWrk(t, "-t1", "-c8", "-d30s", url)
	mon := watchCounters(s.runtime)
	text, _ := os.ReadFile(src)
	for i := 1; i <= reloads; i++ {
		time.Sleep(300 * time.Millisecond) // some requests in each generation
		gen := fmt.Sprint(i)
		writeFile(t, src, string(text)+"    http-response set-header X-Generation "+gen+"\n")
		waitFor(t, r, "generation "+gen+" to be served", func() bool { return haproxyHeader(s.bind, "X-Generation") == gen })
	}
	time.Sleep(300 * time.Millisecond)
	after, err := master.ShowProc(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := wrk.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	samples, drops, last, err := mon.stop()
	if err != nil {
		t.Fatalf("show stat after the load: %v", err)
	}
	t.Logf("%s: %d reloads (show proc), %d show stat samples; last req_tot %v; wrk: %s",
		testenv.HAProxyReleaseOf(t, bin).Version, after.Master.Reloads-before.Master.Reloads, samples, last, res)
	if n := after.Master.Reloads - before.Master.Reloads; n < reloads {
		t.Errorf("show proc counts %d reloads, want at least %d", n, reloads)
	}
	for _, d := range drops {
		t.Errorf("a request total went down: %s", d)
	}
	// The totals count the whole run, not one generation: every request
	// wrk sent went through the frontend and the backend.
	for _, row := range countedRows {
		if last[row] < int64(res.Requests) {
			t.Errorf("%s req_tot %d at the end, but wrk sent %d: the totals restarted", row, last[row], res.Requests)
		}
	}
	// wrk's timeouts (an answer slower than 10s, testenv.StartWrk) are
	// logged above, not asserted: with wrk's 2s, 3.4 showed 0 to 8 per run
	// of 10 reloads on this 2-core machine, an open question (README,
	// counters).
	if n := res.Failed() - res.Timeout; n > 0 {
		t.Errorf("%d requests failed: %s", n, res)
	}
}

// counterWatch reads show stat every 20ms and records every time a
// request total is lower than the one read before it.
type counterWatch struct {
	socket string
	quit   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	n      int
	last   map[string]int64
	drop   []string
}

func watchCounters(socket string) *counterWatch {
	w := &counterWatch{socket: socket, quit: make(chan struct{}), last: map[string]int64{}}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
			w.sample() // an error is a reload: the new worker binds the socket
		}
	}()
	return w
}

// sample reads show stat once and records the totals and any drop.
func (w *counterWatch) sample() error {
	st, err := testenv.ShowStat(context.Background(), w.socket)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	for _, row := range countedRows {
		v, ok := st.Int(row, "req_tot")
		if !ok {
			continue
		}
		if prev, seen := w.last[row]; seen && v < prev {
			w.drop = append(w.drop, fmt.Sprintf("%s req_tot %d after %d (sample %d)", row, v, prev, w.n))
		}
		w.last[row] = v
	}
	return nil
}

// stop ends the watch and reads the totals once more, so that the last
// totals are read after the load ended (a periodic sample may be up to
// 20ms older than wrk's last requests): the samples read, the drops
// seen, the last totals.
func (w *counterWatch) stop() (int, []string, map[string]int64, error) {
	close(w.quit)
	w.wg.Wait()
	var err error
	for range 50 {
		if err = w.sample(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return w.n, w.drop, w.last, err
}
