package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/harender/harender/internal/testenv"
	"github.com/harender/harender/watch"
)

// partitionWait is the test's block_query_wait: a blocking query in
// flight when the link goes down must fail within partitionWait, plus
// Consul's jitter of a sixteenth, plus watch.DefaultTimeout.
const partitionWait = 3 * time.Second

// TestFaultConsulPartition is row 2 of the fault table: the Consul agent
// sits in a network namespace of its own behind a veth pair, and the link
// goes down under load. The blocking query in flight must fail within its
// bound instead of hanging until TCP gives up; the failure shows in the
// log (a Warn with attempt and backoff, naming the timeout) and in
// /metrics (harender_consul_errors_total, and a last-success timestamp
// that stops moving). HAProxy keeps serving its last config. On heal,
// changes made inside the namespace during the partition reach HAProxy.
func TestFaultConsulPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("a partition of about 20s per HAProxy version")
	}
	forEachFaultHAProxy(t, func(t *testing.T, bin string) {
		ns := testenv.NewNetNS(t)
		consul := testenv.StartConsulInNetNS(t, ns)
		// The agent's checks run inside the namespace and cannot reach
		// gateways on the root namespace's loopback: the instances are
		// registered without checks (passing), and HAProxy checks them.
		for i := 1; i <= 3; i++ {
			registerPlain(t, consul, fmt.Sprintf("gw-%d", i), plainGateway(t, fmt.Sprintf("gw-%d", i)))
		}
		consul.WaitPassing(t, "gateway", 3)

		s, _ := runSetup(t, consul.Addr, bin, "")
		cfg, _ := os.ReadFile(s.config)
		writeFile(t, s.config, strings.Replace(string(cfg), "consul {\n",
			fmt.Sprintf("consul {\n  block_query_wait = %q\n", partitionWait), 1))
		r, url := startServing(t, s, 3)
		waitFor(t, r, "a blocking query in flight", func() bool {
			return strings.Contains(r.Logs(), "dependency updated")
		})
		time.Sleep(500 * time.Millisecond) // the next query is now blocking
		before, _ := os.ReadFile(s.haproxyCfg)
		errorsBefore := r.metricSum(t, "harender_consul_errors_total")

		during := testenv.StartWrk(t, "-t1", "-c16", "-d8s", url)
		logMark := len(r.Logs())
		cut := time.Now()
		ns.Partition(t)

		// Changes made meanwhile, inside the namespace: one instance
		// added, one removed.
		gw4 := plainGateway(t, "gw-4")
		inNS(t, ns, "services", "register", "-name=gateway", "-id=gw-4", "-address=127.0.0.1", "-port="+strconv.Itoa(gw4))
		inNS(t, ns, "services", "deregister", "-id=gw-1")

		bound := partitionWait + partitionWait/16 + watch.DefaultTimeout
		var detected time.Duration
		waitWithin(t, r, "the partition to show in the log", bound+20*time.Second, func() bool {
			if strings.Contains(r.Logs()[logMark:], "no answer from consul within") {
				detected = time.Since(cut)
				return true
			}
			return false
		})
		t.Logf("blocking query failed %s after the link went down (bound %s)", detected.Round(time.Millisecond), bound)
		if detected > bound+10*time.Second {
			t.Errorf("the query in flight failed %s after the cut, want within its bound %s (plus slack)", detected, bound)
		}
		warn := logLine(r.Logs()[logMark:], "consul query failed, retrying")
		if !strings.Contains(warn, "attempt=") || !strings.Contains(warn, "backoff=") || !strings.Contains(warn, "no answer from consul within") {
			t.Errorf("the retry's Warn lacks attempt, backoff or cause: %s", warn)
		}
		waitWithin(t, r, "harender_consul_errors_total to rise", 20*time.Second, func() bool {
			return r.metricSum(t, "harender_consul_errors_total") > errorsBefore
		})
		if last := r.metric(t, "harender_consul_last_success_timestamp_seconds"); last == 0 || last > float64(cut.Unix())+1 {
			t.Errorf("harender_consul_last_success_timestamp_seconds = %.0f, want a time before the cut (%d)", last, cut.Unix())
		}
		if !r.healthy() {
			t.Errorf("/healthz is not 200 while HAProxy serves the last good config")
		}
		res1, err := during.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		kept, _ := os.ReadFile(s.haproxyCfg)
		configLost := string(kept) != string(before)
		if configLost {
			t.Errorf("haproxy.cfg changed during the partition:\n%s", kept)
		}

		after := testenv.StartWrk(t, "-t1", "-c16", "-d8s", url)
		heal := time.Now()
		ns.Heal(t)
		waitWithin(t, r, "the changes made during the partition to reach HAProxy", 60*time.Second, func() bool {
			cfg, _ := os.ReadFile(s.haproxyCfg)
			return strings.Contains(string(cfg), "server gw-4 ") && !strings.Contains(string(cfg), "server gw-1 ")
		})
		resumed := time.Since(heal)
		waitWithin(t, r, "gw-4 to answer through HAProxy", 20*time.Second, func() bool {
			got, _ := testenv.Answers(url, 12)
			return got["hello from gw-4"] > 0 && got["hello from gw-1"] == 0
		})
		res2, err := after.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		load := addWrk(res1, res2)
		t.Logf("%s: %s", testenv.HAProxyVersion(bin), load)
		if load.Failed() > 0 {
			t.Errorf("%d of %d requests failed across the partition", load.Failed(), load.Requests)
		}
		faultRow{
			Fault: "Consul partitioned (veth link down)",
			Did: fmt.Sprintf("query in flight failed after %s (bound %s), retries logged and counted; last config kept; a change made meanwhile applied %s after heal",
				detected.Round(100*time.Millisecond), bound.Round(100*time.Millisecond), resumed.Round(100*time.Millisecond)),
			Load:       load,
			ConfigLost: configLost,
		}.report(t, bin)
	})
}

// plainGateway serves "hello from ID" and /health on loopback, in the
// root namespace, and returns its port.
func plainGateway(t *testing.T, id string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "hello from %s\n", id) })
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// registerPlain registers an instance of "gateway" without checks.
func registerPlain(t *testing.T, c *testenv.Consul, id string, port int) {
	t.Helper()
	err := c.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: id, Name: "gateway", Address: "127.0.0.1", Port: port})
	if err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
}

// inNS runs the consul CLI inside ns, against the agent's 127.0.0.1 there:
// the only way to reach it while the link is down.
func inNS(t *testing.T, ns *testenv.NetNS, args ...string) {
	t.Helper()
	bin := testenv.Require(t, "consul", os.Getenv("CONSUL_BIN"), testenv.RepoBin()+"/consul", "consul")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	args = append(args[:2:2], append([]string{"-http-addr=http://127.0.0.1:8500"}, args[2:]...)...)
	if out, err := ns.Command(ctx, bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("consul %s in %s: %v\n%s", strings.Join(args, " "), ns.Name, err, out)
	}
}
