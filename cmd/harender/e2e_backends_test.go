package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
)

// TestRunServiceChurn: the routes template under wrk load while 20 routed
// services (4 with -short) are added and then removed one by one. Each new service is
// served, and each removed one answers 404, on every HAProxy; no request
// of the load fails. On 3.4 a new service is a backend added at runtime:
// no reload at all (show proc's counter), and a service removed while a
// request to it is in flight is deleted only once that request is served.
// On 3.0 the reloads are counted and logged, for comparison; 2.6 is
// skipped, as it reloads as 3.0 does.
func TestRunServiceChurn(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		if !testenv.HAProxyHas(t, bin, haproxy.FeatureGUID) {
			t.Skip("2.x reloads for a new service as 3.0 does; the 3.0 run reports it")
		}
		runtimeBackends := testenv.HAProxyHas(t, bin, haproxy.FeatureRuntimeBackends)
		consul := testenv.StartConsul(t)
		startRouteBackend(t, consul, "svc-a", "a-1", "urlprefix-/a")
		consul.WaitPassing(t, "svc-a", 1)
		s := routesSetup(t, consul.Addr, bin)
		r := startRun(t, s.config)
		r.waitHealthy(t)
		waitFor(t, r, "the route /a", func() bool { _, body := routeGet(s.bind, "", "/a/x"); return body == "a-1 /a/x" })
		master := &haproxy.Master{Path: s.master}
		reloads := func() int {
			p, err := master.ShowProc(t.Context())
			if err != nil {
				t.Fatalf("show proc: %v", err)
			}
			return p.Master.Reloads
		}
		before := reloads()
		wrk := testenv.StartWrk(t, "-t1", "-c8", "-d300s", "--latency", "http://"+s.bind+"/a/x")
		time.Sleep(500 * time.Millisecond)

		n := 20
		if testing.Short() {
			n = 4 // -race -short: the same paths, fewer rounds
		}
		var added, removed []time.Duration
		var slowArrived []<-chan struct{}
		ids := make([]string, n)
		for i := range n {
			ids[i] = fmt.Sprintf("svc-%02d", i)
			path := "/" + ids[i] + "/x"
			start := time.Now()
			slowArrived = append(slowArrived, startSlowRouteBackend(t, consul, ids[i], "urlprefix-/"+ids[i]))
			waitWithin(t, r, ids[i]+" served", 20*time.Second, func() bool {
				_, body := routeGet(s.bind, "", path)
				return body == ids[i]+" "+path
			})
			added = append(added, time.Since(start))
		}
		// The first removal has a request in flight: it is served.
		inFlight := make(chan string, 1)
		go func() {
			_, body := routeGet(s.bind, "", "/"+ids[0]+"/slow")
			inFlight <- body
		}()
		select {
		case <-slowArrived[0]:
		case <-time.After(10 * time.Second):
			t.Fatalf("the slow request never reached %s", ids[0])
		}
		for i := range n {
			path := "/" + ids[i] + "/x"
			start := time.Now()
			if err := consul.Client.Agent().ServiceDeregister(ids[i]); err != nil {
				t.Fatal(err)
			}
			waitWithin(t, r, ids[i]+" gone", 20*time.Second, func() bool {
				code, _ := routeGet(s.bind, "", path)
				return code == http.StatusNotFound
			})
			removed = append(removed, time.Since(start))
		}
		if body := <-inFlight; body != ids[0]+" /"+ids[0]+"/slow" {
			t.Errorf("the request in flight during the removal of %s got %q", ids[0], body)
		}
		time.Sleep(1500 * time.Millisecond) // a last reload would come after min_reload_interval
		res, err := wrk.Stop(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		got := reloads() - before
		t.Logf("%s: %d services added then removed: %d reloads; served after %s; 404 after %s; wrk: %s",
			testenv.HAProxyVersion(bin), n, got, spread(added), spread(removed), res)
		if res.Failed() > 0 || res.Requests == 0 {
			t.Errorf("under load: %d of %d requests failed\n%s", res.Failed(), res.Requests, res.Output)
		}
		if runtimeBackends {
			if got != 0 {
				t.Errorf("%d reloads; want none: every backend is added and deleted at runtime", got)
			}
			waitFor(t, r, "the removed backends deleted", func() bool {
				names, err := (&haproxy.Runtime{Path: s.runtime}).ShowBackends(t.Context())
				return err == nil && !slices.ContainsFunc(names, func(b string) bool { return strings.HasPrefix(b, "svc-") && b != "svc-a" })
			})
		}
	})
}

// startSlowRouteBackend is one instance of service, registered with tags,
// that answers "SERVICE PATH"; a path ending in /slow waits 1.5 s first,
// and is announced on the channel returned.
func startSlowRouteBackend(t *testing.T, c *testenv.Consul, service string, tags ...string) <-chan struct{} {
	t.Helper()
	arrived := make(chan struct{}, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/slow") {
			select {
			case arrived <- struct{}{}:
			default:
			}
			time.Sleep(1500 * time.Millisecond)
		}
		fmt.Fprintf(w, "%s %s", service, r.URL.RequestURI())
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	reg := &api.AgentServiceRegistration{ID: service, Name: service, Address: "127.0.0.1", Port: port, Tags: tags,
		Check: &api.AgentServiceCheck{HTTP: "http://127.0.0.1:" + strconv.Itoa(port) + "/health",
			Interval: "500ms", Timeout: "1s", Status: api.HealthPassing}}
	if err := c.Client.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("register %s: %v", service, err)
	}
	return arrived
}

// spread is "median M, max X" of ds.
func spread(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("median %s, max %s", s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

// TestRunRepairsBackendsAfterRestart, on HAProxy 3.4, with HAProxy running
// on its own: while harender is stopped, an operator deletes a backend
// the config has, adds one it has not, and a new service registers. The
// harender that starts again repairs all three at runtime, with no reload.
func TestRunRepairsBackendsAfterRestart(t *testing.T) {
	testenv.ForEachHAProxy(t, func(t *testing.T, bin string) {
		if !testenv.HAProxyHas(t, bin, haproxy.FeatureRuntimeBackends) {
			t.Skip("no runtime backends before 3.4")
		}
		consul := testenv.StartConsul(t)
		startSlowRouteBackend(t, consul, "svc-a", "urlprefix-/svc-a")
		startSlowRouteBackend(t, consul, "svc-b", "urlprefix-/svc-b")
		consul.WaitPassing(t, "svc-b", 1)
		s := routesSetup(t, consul.Addr, bin)
		text, _ := os.ReadFile(s.config)
		writeFile(t, s.config, strings.Replace(string(text), "start               = true", "start               = false", 1))
		renderAndStartHAProxy(t, bin, s)
		served := func(svc string) func() bool {
			return func() bool { _, body := routeGet(s.bind, "", "/"+svc+"/x"); return body == svc+" /"+svc+"/x" }
		}
		r := startRun(t, s.config)
		r.waitHealthy(t)
		waitFor(t, r, "svc-b served", served("svc-b"))
		if code := r.stop(t); code != exitOK {
			t.Fatalf("harender run exited %d", code)
		}
		master := &haproxy.Master{Path: s.master}
		procs, err := master.ShowProc(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		rt := &haproxy.Runtime{Path: s.runtime}
		if err := rt.DelBackend(t.Context(), "svc-b"); err != nil {
			t.Fatalf("operator's del backend: %v", err)
		}
		if err := rt.AddBackend(t.Context(), haproxy.BackendAdd{Name: "stray", From: "routes.backend"}); err != nil {
			t.Fatalf("operator's add backend: %v", err)
		}
		startSlowRouteBackend(t, consul, "svc-c", "urlprefix-/svc-c")

		r2 := startRun(t, s.config)
		waitFor(t, r2, "svc-b served again", served("svc-b"))
		waitFor(t, r2, "svc-c served", served("svc-c"))
		waitFor(t, r2, "the stray backend deleted", func() bool {
			names, err := rt.ShowBackends(t.Context())
			return err == nil && !slices.Contains(names, "stray")
		})
		if !served("svc-a")() {
			t.Errorf("svc-a is no longer served")
		}
		after, err := master.ShowProc(t.Context())
		if err != nil || after.Master.PID != procs.Master.PID || after.Master.Reloads != procs.Master.Reloads {
			t.Errorf("show proc: master %+v, was %+v (%v); want no reload", after.Master, procs.Master, err)
		}
		if logs := r2.Logs(); !strings.Contains(logs, "stray") || !strings.Contains(logs, "svc-b") {
			t.Errorf("the repairs are not logged:\n%s", lastLines(logs, 20))
		}
	})
}
