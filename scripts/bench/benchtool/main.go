// Command benchtool is the Go side of scripts/bench/sidecar.sh. Subcommands:
//
//	reload   PUT a KV key N times; after each PUT returns, poll HAProxy until
//	         the response header X-Rev carries the new value (a reload is
//	         needed for that). Prints p50/p90/p99/max, and the same from the
//	         PUT to harender's JSON log line "reloaded" when -log is given.
//	runtime  re-register one instance with the same ID on another port
//	         (another running gateway); poll until the body names the
//	         gateway on the new port. Same report; log line "applied through
//	         the runtime API".
//	register register N services svc-NNNN with one instance each.
//	churn    every -every, pick a random svc-NNNN and either change its
//	         meta weight (runtime-API change) or toggle its registration
//	         (reload); restores every service at the end.
//	rss      sample VmRSS of -pid every -every for -d; print max and last.
//	proxy    counting reverse proxy in front of Consul; GET /__bench/counts
//	         prints counts by path, POST /__bench/reset zeroes them.
//
// Everything is stdlib plus github.com/hashicorp/consul/api.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchtool: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: benchtool reload|runtime|register|churn|rss|proxy [flags]")
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "reload":
		err = cmdReload(args)
	case "runtime":
		err = cmdRuntime(args)
	case "register":
		err = cmdRegister(args)
	case "churn":
		err = cmdChurn(args)
	case "rss":
		err = cmdRSS(args)
	case "proxy":
		err = cmdProxy(args)
	default:
		err = fmt.Errorf("unknown subcommand %q", cmd)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func consulClient(addr string) (*api.Client, error) {
	cfg := api.DefaultConfig()
	cfg.Address = addr
	return api.NewClient(cfg)
}

// poller polls url with a fresh connection each time (no keep-alive, so a
// new connection is accepted by whichever worker currently listens).
type poller struct {
	c     *http.Client
	url   string
	every time.Duration
}

func newPoller(u string, every time.Duration) *poller {
	tr := &http.Transport{DisableKeepAlives: true}
	return &poller{c: &http.Client{Transport: tr, Timeout: 2 * time.Second}, url: u, every: every}
}

// until polls until ok(resp header, body) or the deadline; returns polls.
func (p *poller) until(deadline time.Time, ok func(h http.Header, body string) bool) (int, bool) {
	n := 0
	for time.Now().Before(deadline) {
		n++
		resp, err := p.c.Get(p.url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if ok(resp.Header, string(b)) {
				return n, true
			}
		}
		time.Sleep(p.every)
	}
	return n, false
}

type sample struct {
	i       int
	putDone time.Time
	seen    time.Duration // PUT return -> HAProxy serves the change
	ok      bool
	logged  time.Duration // PUT return -> harender log line (0: not found)
	polls   int
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	// nearest-rank
	k := int(float64(len(s))*p/100+0.999999) - 1
	if k < 0 {
		k = 0
	}
	if k >= len(s) {
		k = len(s) - 1
	}
	return s[k]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func summary(label string, d []time.Duration) string {
	if len(d) == 0 {
		return fmt.Sprintf("%-34s n=0", label)
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	return fmt.Sprintf("%-34s n=%d min=%s p50=%s p90=%s p99=%s max=%s (ms)", label, len(s),
		ms(s[0]), ms(pct(s, 50)), ms(pct(s, 90)), ms(pct(s, 99)), ms(s[len(s)-1]))
}

// logTimes reads harender's JSON log and returns the times of lines whose
// msg is msg.
func logTimes(path, msg string) ([]time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ts []time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == msg {
			ts = append(ts, l.Time)
		}
	}
	return ts, sc.Err()
}

// attachLog sets s.logged. When harender logged exactly one line per change
// after the first PUT, the k-th line belongs to the k-th change (a line can
// land after the next PUT: HAProxy may serve before harender's confirmation
// is logged). Otherwise it falls back to: the first line at or after each
// PUT's return and before the next PUT.
func attachLog(samples []sample, path, msg string) {
	if path == "" || len(samples) == 0 {
		return
	}
	all, err := logTimes(path, msg)
	if err != nil {
		log.Printf("reading %s: %v", path, err)
		return
	}
	var ts []time.Time
	for _, t := range all {
		if !t.Before(samples[0].putDone) {
			ts = append(ts, t)
		}
	}
	if len(ts) == len(samples) {
		for k := range samples {
			samples[k].logged = ts[k].Sub(samples[k].putDone)
		}
		return
	}
	fmt.Printf("%d %q lines for %d changes: pairing each change with the first line in its window\n", len(ts), msg, len(samples))
	for k := range samples {
		end := time.Now().Add(time.Hour)
		if k+1 < len(samples) {
			end = samples[k+1].putDone
		}
		for _, t := range ts {
			if !t.Before(samples[k].putDone) && t.Before(end) {
				samples[k].logged = t.Sub(samples[k].putDone)
				break
			}
		}
	}
}

func report(name string, samples []sample, csvPath, logMsg string) {
	var seen, logged []time.Duration
	fails := 0
	for _, s := range samples {
		if s.ok {
			seen = append(seen, s.seen)
		} else {
			fails++
		}
		if s.logged > 0 {
			logged = append(logged, s.logged)
		}
	}
	fmt.Println(summary(name+": PUT->served", seen))
	if logMsg != "" {
		fmt.Println(summary(name+": PUT->log \""+logMsg+"\"", logged))
	}
	if fails > 0 {
		fmt.Printf("%s: %d changes not seen before the timeout\n", name, fails)
	}
	if csvPath != "" {
		f, err := os.Create(csvPath)
		if err == nil {
			fmt.Fprintln(f, "i,put_done_unix_ns,served_ms,ok,log_ms,polls")
			for _, s := range samples {
				fmt.Fprintf(f, "%d,%d,%s,%v,%s,%d\n", s.i, s.putDone.UnixNano(), ms(s.seen), s.ok, ms(s.logged), s.polls)
			}
			f.Close()
		}
	}
}

func cmdReload(args []string) error {
	fs := flag.NewFlagSet("reload", flag.ExitOnError)
	addr := fs.String("consul", "127.0.0.1:28500", "Consul HTTP address")
	u := fs.String("url", "http://127.0.0.1:28080/", "HAProxy URL to poll")
	key := fs.String("key", "rev", "KV key the template puts into X-Rev")
	n := fs.Int("n", 120, "changes")
	start := fs.Int("start", 1, "first value")
	gap := fs.Duration("gap", 300*time.Millisecond, "pause after a change is seen, before the next PUT")
	every := fs.Duration("poll", 2*time.Millisecond, "poll interval")
	timeout := fs.Duration("timeout", 10*time.Second, "give up on one change after")
	logPath := fs.String("log", "", "harender JSON log, for the 'reloaded' line")
	csvPath := fs.String("csv", "", "write per-change samples here")
	fs.Parse(args)
	c, err := consulClient(*addr)
	if err != nil {
		return err
	}
	p := newPoller(*u, *every)
	var samples []sample
	for i := *start; i < *start+*n; i++ {
		v := strconv.Itoa(i)
		if _, err := c.KV().Put(&api.KVPair{Key: *key, Value: []byte(v)}, nil); err != nil {
			return err
		}
		t0 := time.Now()
		polls, ok := p.until(t0.Add(*timeout), func(h http.Header, _ string) bool { return h.Get("X-Rev") == v })
		samples = append(samples, sample{i: i, putDone: t0, seen: time.Since(t0), ok: ok, polls: polls})
		time.Sleep(*gap)
	}
	time.Sleep(200 * time.Millisecond) // let the last log line land
	attachLog(samples, *logPath, "reloaded")
	report("reload", samples, *csvPath, "reloaded")
	return nil
}

func cmdRuntime(args []string) error {
	fs := flag.NewFlagSet("runtime", flag.ExitOnError)
	addr := fs.String("consul", "127.0.0.1:28500", "Consul HTTP address")
	u := fs.String("url", "http://127.0.0.1:28081/", "HAProxy URL to poll")
	svc := fs.String("service", "rt", "service name")
	id := fs.String("id", "rt-1", "instance ID (kept across changes)")
	targets := fs.String("targets", "", "comma list of PORT=NAME: gateways to alternate between")
	n := fs.Int("n", 120, "changes")
	gap := fs.Duration("gap", 300*time.Millisecond, "pause after a change is seen")
	every := fs.Duration("poll", 2*time.Millisecond, "poll interval")
	timeout := fs.Duration("timeout", 10*time.Second, "give up on one change after")
	logPath := fs.String("log", "", "harender JSON log")
	csvPath := fs.String("csv", "", "write per-change samples here")
	initOnly := fs.Bool("init", false, "only register on the first target and exit")
	diag := fs.String("diag", "", "shell command run (output printed) when a change is not seen in time")
	fs.Parse(args)
	type tgt struct {
		port int
		name string
	}
	var ts []tgt
	for _, s := range strings.Split(*targets, ",") {
		a, b, ok := strings.Cut(s, "=")
		port, err := strconv.Atoi(a)
		if !ok || err != nil {
			return fmt.Errorf("bad -targets entry %q", s)
		}
		ts = append(ts, tgt{port, b})
	}
	if len(ts) < 2 {
		return fmt.Errorf("-targets needs two entries")
	}
	c, err := consulClient(*addr)
	if err != nil {
		return err
	}
	reg := func(port int) error {
		return c.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: *id, Name: *svc, Address: "127.0.0.1", Port: port})
	}
	if *initOnly {
		return reg(ts[0].port)
	}
	p := newPoller(*u, *every)
	var samples []sample
	for i := 1; i <= *n; i++ {
		t := ts[i%len(ts)]
		if err := reg(t.port); err != nil {
			return err
		}
		t0 := time.Now()
		want := "hello from " + t.name + "\n"
		var last string
		polls, ok := p.until(t0.Add(*timeout), func(_ http.Header, body string) bool { last = body; return body == want })
		samples = append(samples, sample{i: i, putDone: t0, seen: time.Since(t0), ok: ok, polls: polls})
		if !ok {
			fmt.Printf("runtime: change %d (-> %s) not seen in %s; last body %q\n", i, t.name, *timeout, last)
			if *diag != "" {
				out, _ := exec.Command("sh", "-c", *diag).CombinedOutput()
				fmt.Printf("%s", out)
			}
		}
		time.Sleep(*gap)
	}
	time.Sleep(200 * time.Millisecond)
	msg := "applied through the runtime API"
	attachLog(samples, *logPath, msg)
	report("runtime", samples, *csvPath, msg)
	return nil
}

func svcReg(i, weight int) *api.AgentServiceRegistration {
	name := fmt.Sprintf("svc-%04d", i)
	return &api.AgentServiceRegistration{
		ID: name + "-1", Name: name, Address: "127.0.0.1", Port: 40000 + i,
		Tags: []string{"bench"},
		Meta: map[string]string{"weight": strconv.Itoa(weight)},
	}
}

func cmdRegister(args []string) error {
	fs := flag.NewFlagSet("register", flag.ExitOnError)
	addr := fs.String("consul", "127.0.0.1:28500", "Consul HTTP address")
	n := fs.Int("n", 1000, "services")
	conc := fs.Int("c", 32, "concurrent requests")
	fs.Parse(args)
	c, err := consulClient(*addr)
	if err != nil {
		return err
	}
	t0 := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := c.Agent().ServiceRegister(svcReg(i, 10)); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < *n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	// Wait until the catalog shows them all.
	for {
		svcs, _, err := c.Catalog().Services(nil)
		if err == nil && len(svcs) >= *n {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Printf("registered %d services in %s\n", *n, time.Since(t0).Round(time.Millisecond))
	return nil
}

func cmdChurn(args []string) error {
	fs := flag.NewFlagSet("churn", flag.ExitOnError)
	addr := fs.String("consul", "127.0.0.1:28500", "Consul HTTP address")
	n := fs.Int("n", 1000, "services svc-0000..")
	d := fs.Duration("d", 60*time.Second, "duration")
	every := fs.Duration("every", 100*time.Millisecond, "one change per")
	fs.Parse(args)
	c, err := consulClient(*addr)
	if err != nil {
		return err
	}
	down := map[int]bool{}
	var weights, toggles, errs int
	tick := time.NewTicker(*every)
	defer tick.Stop()
	end := time.Now().Add(*d)
	for k := 0; time.Now().Before(end); k++ {
		<-tick.C
		i := rand.IntN(*n)
		if k%2 == 0 && !down[i] {
			// meta weight change: only a server weight changes
			err = c.Agent().ServiceRegister(svcReg(i, 1+rand.IntN(100)))
			weights++
		} else {
			if down[i] {
				err = c.Agent().ServiceRegister(svcReg(i, 10))
				delete(down, i)
			} else {
				err = c.Agent().ServiceDeregister(fmt.Sprintf("svc-%04d-1", i))
				down[i] = true
			}
			toggles++
		}
		if err != nil {
			errs++
		}
	}
	for i := range down {
		c.Agent().ServiceRegister(svcReg(i, 10))
	}
	fmt.Printf("churn: %d weight changes, %d registration toggles, %d errors in %s\n", weights, toggles, errs, *d)
	return nil
}

func vmRSS(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

func cmdRSS(args []string) error {
	fs := flag.NewFlagSet("rss", flag.ExitOnError)
	pid := fs.Int("pid", 0, "process")
	d := fs.Duration("d", 30*time.Second, "duration")
	every := fs.Duration("every", 500*time.Millisecond, "sample interval")
	label := fs.String("label", "rss", "label")
	fs.Parse(args)
	var mx, last, n int
	end := time.Now().Add(*d)
	for time.Now().Before(end) {
		kb, err := vmRSS(*pid)
		if err != nil {
			return err
		}
		n++
		last = kb
		mx = max(mx, kb)
		time.Sleep(*every)
	}
	fmt.Printf("%s: samples=%d max=%.1f MiB last=%.1f MiB\n", *label, n, float64(mx)/1024, float64(last)/1024)
	return nil
}

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
