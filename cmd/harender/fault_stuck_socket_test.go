package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/harender/harender/internal/testenv"
)

// TestFaultStuckSocket is fault-table row 8: a listener that accepts and
// never answers takes the place of HAProxy's runtime socket, then of its
// master socket, while harender runs under load and an instance registers.
// Every exchange has a deadline (5s, haproxy.exchange), so watching and
// rendering go on: a second template (a Consul key into app.conf) keeps
// following its key, /healthz names the socket, errors are logged; once
// the real socket is back the pending change applies. The test measures
// how long the event loop is blocked: the delay of app.conf behind its key.
func TestFaultStuckSocket(t *testing.T) {
	forEachFaultHAProxy(t, func(t *testing.T, bin string) {
		consul, _ := startGateways(t, 2)
		kv := consul.Client.KV()
		kv.Put(&api.KVPair{Key: "app/color", Value: []byte("c0")}, nil)
		s, _ := runSetup(t, consul.Addr, bin, "")
		hcl, _ := os.ReadFile(s.config)
		writeFile(t, s.config, string(hcl)+`template {
  contents    = "color={{ key \"app/color\" }}\n"
  destination = "app.conf"
}
`)
		app := filepath.Join(s.dir, "app.conf")
		r, url := startServing(t, s, 2)

		color := 0
		// follow puts the next color and returns how long app.conf took
		// to show it.
		follow := func() time.Duration {
			color++
			want := fmt.Sprintf("color=c%d\n", color)
			start := time.Now()
			kv.Put(&api.KVPair{Key: "app/color", Value: []byte(want[6 : len(want)-1])}, nil)
			for time.Since(start) < 60*time.Second {
				if b, _ := os.ReadFile(app); string(b) == want {
					return time.Since(start)
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Fatalf("app.conf never showed %q\n%s", want, r.Logs())
			return 0
		}
		base := follow()
		t.Logf("app.conf follows its key in %s with HAProxy's sockets answering", base.Round(time.Millisecond))

		var total testenv.WrkResult
		var did []string
		phase := func(name, socket, id string) {
			t.Helper()
			wrk := testenv.StartWrk(t, "-t1", "-c16", "-d8s", url)
			stuck := stuckSocket(t, socket)
			testenv.StartGateway(t, consul, "gateway", id)
			var lags []time.Duration
			var worst time.Duration
			for range 3 {
				lag := follow()
				lags = append(lags, lag.Round(time.Millisecond))
				worst = max(worst, lag)
				time.Sleep(500 * time.Millisecond)
			}
			var line string
			waitFor(t, r, name+": an error naming "+socket, func() bool {
				line = errorLine(r.Logs(), socket)
				return line != ""
			})
			code, why := healthz(t, r)
			t.Logf("%s: app.conf lags while stuck: %v; /healthz %d %q; log: %s", name, lags, code, why, line)
			if code != 503 || !strings.Contains(why, socket) || strings.Contains(why, "\n") {
				t.Errorf("%s: /healthz %d %q, want 503 naming %s in one line", name, code, why, socket)
			}
			// One exchange's deadline (5s), the quiescence window and a
			// render, with slack for a machine shared with other tests.
			if worst > 8*time.Second {
				t.Errorf("%s: app.conf lagged %s behind its key: the loop was blocked longer than one socket deadline", name, worst)
			}
			res, err := wrk.Wait(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: wrk: %s", name, res)
			total = addWrk(total, res)

			blocked := stuck.restore()
			back := time.Now()
			var applied time.Duration
			for time.Since(back) < 40*time.Second {
				cfg, _ := os.ReadFile(s.haproxyCfg)
				if got, _ := testenv.Answers(url, 9); strings.Contains(string(cfg), "server "+id+" ") && got["hello from "+id] > 0 && r.healthy() {
					applied = time.Since(back)
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Logf("%s: %d connections held on the stuck socket; change applied %s after the real socket came back",
				name, blocked, applied.Round(time.Millisecond))
			if applied == 0 {
				t.Errorf("%s: %s not applied within 40s of the socket coming back", name, id)
				did = append(did, fmt.Sprintf("%s stuck: loop blocked up to %.1fs per change, %s never applied", name, worst.Seconds(), id))
				return
			}
			did = append(did, fmt.Sprintf("%s stuck: %d exchanges timed out, app.conf lagged up to %.1fs (%.1fs normally), /healthz 503; %s applied %.1fs after the socket returned",
				name, blocked, worst.Seconds(), base.Seconds(), id, applied.Seconds()))
		}
		phase("runtime socket", s.runtime, "gw-3")
		phase("master socket", s.master, "gw-4")

		// A change that needs a reload while the runtime socket is stuck:
		// the server state is asked for before the reload and the servers
		// after it, each up to the deadline. Measured, not asserted.
		wrk := testenv.StartWrk(t, "-t1", "-c16", "-d8s", url)
		rt := stuckSocket(t, s.runtime)
		text, _ := os.ReadFile(s.source)
		edited := time.Now()
		writeFile(t, s.source, string(text)+"    http-response set-header X-Fault edited\n")
		time.Sleep(300 * time.Millisecond) // the edit reaches the loop first
		lag := follow()
		var reloaded time.Duration
		for time.Since(edited) < 30*time.Second {
			if haproxyHeader(s.bind, "X-Fault") == "edited" {
				reloaded = time.Since(edited)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		res, err := wrk.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		held := rt.restore()
		t.Logf("edit needing a reload, runtime socket stuck: reload served %s after the edit; a key put 300ms after the edit reached app.conf %s later; %d exchanges timed out; wrk: %s",
			reloaded.Round(time.Millisecond), lag.Round(time.Millisecond), held, res)
		total = addWrk(total, res)
		did = append(did, fmt.Sprintf("reload with runtime socket stuck: loop blocked %.1fs (%d timed-out exchanges), reloaded after %.1fs",
			lag.Seconds()+0.3, held, reloaded.Seconds()))
		// min_reload_interval (1s), haproxy -c, one deadline for the server
		// state (5s), with slack. The socket failures of the phases before
		// have healed: their backoff must not defer this reload.
		if reloaded == 0 || reloaded > 12*time.Second {
			t.Errorf("the edit was reloaded %s after it was made (0: not within 30s), want within 12s; a backoff left by failures that have since healed defers it (see \"reload deferred\" in=)", reloaded)
		}

		faultRow{Fault: "stuck runtime socket, then stuck master socket, then a reload with the runtime socket stuck (accept, never answer)",
			Did: strings.Join(did, "; "), Load: total}.report(t, bin)
		if total.Failed() > 0 {
			t.Errorf("%d of %d requests failed", total.Failed(), total.Requests)
		}
		if t.Failed() {
			t.Logf("harender:\n%s", r.Logs())
		}
	})
}

// stuck is a unix listener in place of an HAProxy socket, whose real file
// waits aside until restore.
type stuck struct {
	path string
	ln   *net.UnixListener
	mu   sync.Mutex
	held []net.Conn
	done chan struct{}
}

// stuckSocket moves the socket at path aside (HAProxy keeps listening on
// it) and listens there instead, accepting connections and never
// answering.
func stuckSocket(t *testing.T, path string) *stuck {
	t.Helper()
	if err := os.Rename(path, path+".real"); err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	s := &stuck{path: path, ln: ln, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.held = append(s.held, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { s.restore() })
	return s
}

// restore closes the stuck listener and its connections, puts the real
// socket back, and returns how many connections were held.
func (s *stuck) restore() int {
	if s.ln == nil {
		return 0
	}
	s.ln.Close() // removes its file
	<-s.done
	s.ln = nil
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.held {
		c.Close()
	}
	os.Rename(s.path+".real", s.path)
	return len(s.held)
}
