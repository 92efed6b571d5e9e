package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// poller polls url. Without keepAlive, with a fresh connection each time,
// so that a new connection is accepted by whichever worker currently
// listens (after a reload). With it, over one kept connection, as a client
// of an API gateway keeps its own: a poll then costs no connect, and
// HAProxy may reuse its own idle connection to the server, so polls come
// closer together and the time a change is seen is nearer the time it
// took effect. Changes through the runtime API need no new worker.
type poller struct {
	c     *http.Client
	url   string
	every time.Duration
}

func newPoller(u string, every time.Duration, keepAlive bool) *poller {
	tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1}
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
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	return fmt.Sprintf("%-34s n=%d min=%s mean=%s p50=%s p90=%s p99=%s max=%s (ms)", label, len(s),
		ms(s[0]), ms(sum/time.Duration(len(s))), ms(pct(s, 50)), ms(pct(s, 90)), ms(pct(s, 99)), ms(s[len(s)-1]))
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

// attachLog sets s.logged. Changes are taken in the order of their PUTs,
// whatever the order of samples (join lists its joins, then its leaves).
// When harender logged exactly one line per change after the first PUT,
// the k-th line belongs to the k-th change (a line can land after the next
// PUT: HAProxy may serve before harender's confirmation is logged).
// Otherwise it falls back to: the first line at or after each PUT's return
// and before the next PUT.
func attachLog(samples []sample, path, msg string) {
	if path == "" || len(samples) == 0 {
		return
	}
	all, err := logTimes(path, msg)
	if err != nil {
		log.Printf("reading %s: %v", path, err)
		return
	}
	byPut := make([]*sample, len(samples))
	for k := range samples {
		byPut[k] = &samples[k]
	}
	sort.Slice(byPut, func(a, b int) bool { return byPut[a].putDone.Before(byPut[b].putDone) })
	var ts []time.Time
	for _, t := range all {
		if !t.Before(byPut[0].putDone) {
			ts = append(ts, t)
		}
	}
	if len(ts) == len(byPut) {
		for k, s := range byPut {
			s.logged = ts[k].Sub(s.putDone)
		}
		return
	}
	fmt.Printf("%d %q lines for %d changes: pairing each change with the first line in its window\n", len(ts), msg, len(byPut))
	for k, s := range byPut {
		end := time.Now().Add(time.Hour)
		if k+1 < len(byPut) {
			end = byPut[k+1].putDone
		}
		for _, t := range ts {
			if !t.Before(s.putDone) && t.Before(end) {
				s.logged = t.Sub(s.putDone)
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
	p := newPoller(*u, *every, false)
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
	keepAlive := fs.Bool("keepalive", false, "poll over one kept connection (see poller)")
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
	p := newPoller(*u, *every, *keepAlive)
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
