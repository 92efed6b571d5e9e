package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/harender/harender/internal/testenv"
)

// The services scenario (make bench-services): one stable routed service
// under wrk load, then -services routed services registered one by one,
// each once the one before is served through the proxy, then deregistered
// one by one, each once the one before answers 404. Each service is one
// instance with the tag urlprefix-/svc-NN; the proxy routes by path prefix.

// serviceResult is one row of the services table.
type serviceResult struct {
	Stack        string
	Reloads      int             // the master's reload counter over the run; -1: unknown
	Failed       int             // wrk: non-2xx/3xx + socket errors
	FailedDetail string          // how they split
	Added, Gone  []time.Duration // registration → first 200; deregistration → 404
	Throughput   float64
	CPU          time.Duration // the controller's CPU time over the run; -1: not measured
	ChildCPU     time.Duration // of which its children's (haproxy -c, reload scripts)
	Backends     int           // backends HAProxy still has at the end besides stable's; -1: unknown
	Load         string
	Err          string
}

func servicesMain(o *options, specs []stackSpec) int {
	started := time.Now()
	o.load = loadavg()
	var rs []serviceResult
	status := 0
	for _, sp := range specs {
		fmt.Fprintf(os.Stderr, "bench: %s, %d services ...\n", sp.name, o.services)
		r := runServices(o, sp)
		if r.Err != "" {
			status = 1
			fmt.Fprintf(os.Stderr, "bench: %s: %s\n", sp.name, r.Err)
		} else {
			fmt.Fprintf(os.Stderr, "bench: %s: reloads %s, failed %d%s, served %s, 404 %s, %.0f req/s\n",
				sp.name, count(r.Reloads), r.Failed, r.FailedDetail, spreadCell(r.Added), spreadCell(r.Gone), r.Throughput)
		}
		rs = append(rs, r)
	}
	doc := servicesReport(o, rs, started)
	fmt.Print(doc)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(doc), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	return status
}

func runServices(o *options, sp stackSpec) serviceResult {
	res := serviceResult{Stack: sp.name, Reloads: -1, CPU: -1, Backends: -1}
	dir, err := os.MkdirTemp(o.work, strings.ReplaceAll(sp.name, "@", "-")+"-services-")
	if err != nil {
		res.Err = err.Error()
		return res
	}
	e := &env{o: o, dir: dir, ps: &procs{dir: dir}, ports: ports{o.portBase}}
	defer func() {
		e.ps.stopAll()
		killPIDFile(e.path("haproxy.pid"))
		if !o.keep && res.Err == "" {
			os.RemoveAll(dir)
		}
	}()
	if err := measureServices(e, sp, &res); err != nil {
		res.Err = fmt.Sprintf("%v (logs in %s)", err, dir)
	}
	return res
}

// svcName is the name, instance id and route of the i-th service; 0 is the
// stable one.
func svcName(i int) string {
	if i == 0 {
		return "stable"
	}
	return fmt.Sprintf("svc-%02d", i)
}

func measureServices(e *env, sp stackSpec, res *serviceResult) error {
	var st stack
	if sp.kind == "harender" {
		st = &routesHarender{bin: sp.haproxy}
	} else {
		st = &ctStack{bin: sp.haproxy, template: routesTemplate, serving: 1}
	}
	src := &consulSource{}
	e.src = src
	if err := st.prepare(e); err != nil {
		return err
	}
	if err := src.start(e); err != nil {
		return err
	}
	for i := 0; i <= e.o.services; i++ { // every instance serves from the start
		in := &instance{id: svcName(i), n: i + 1, port: e.ports.instance(i + 1)}
		e.insts = append(e.insts, in)
		if err := e.startInstance(in); err != nil {
			return err
		}
	}
	if err := registerRouted(e, e.insts[0]); err != nil {
		return err
	}
	if err := st.start(e); err != nil {
		return err
	}
	front := e.ports.front()
	if err := waitFor("/stable served", 60*time.Second, func() bool { return routeStatus(front, "stable") == http.StatusOK }); err != nil {
		return err
	}
	time.Sleep(time.Second) // let the first health checks settle
	r0 := st.reloads(e)
	c0, k0 := e.ps.cpuParts(st.controller())

	wrkOut := &bytes.Buffer{}
	wrk := exec.Command(e.o.wrk, "-t", "2", "-c", fmt.Sprint(e.o.conns), "-d", "3600s", "--timeout", "10s",
		"--latency", fmt.Sprintf("http://127.0.0.1:%d/stable/x", front))
	wrk.Stdout, wrk.Stderr = wrkOut, wrkOut
	if err := wrk.Start(); err != nil {
		return fmt.Errorf("wrk: %w", err)
	}
	runErr := churnServices(e, res)
	if runErr == nil {
		time.Sleep(tail) // a last reload comes min_reload_interval after the one before
	}
	wrk.Process.Signal(syscall.SIGINT)
	werr := wrk.Wait()
	res.Load = strings.Fields(loadavg())[0]
	os.WriteFile(e.path("wrk.out"), wrkOut.Bytes(), 0o644)
	if runErr != nil {
		return runErr
	}
	w, err := testenv.ParseWrk(wrkOut.String())
	if err != nil {
		return fmt.Errorf("wrk: %v: %w: %s", werr, err, wrkOut)
	}
	res.Failed, res.FailedDetail = w.Failed(), failedDetail(w)
	res.Throughput = float64(w.Requests) / w.Duration.Seconds()
	if r1 := st.reloads(e); r0 >= 0 && r1 >= 0 {
		res.Reloads = r1 - r0
	}
	if c1, k1 := e.ps.cpuParts(st.controller()); c0 >= 0 && c1 >= 0 {
		res.CPU, res.ChildCPU = c1+k1-c0-k0, k1-k0
	}
	res.Backends = leftBackends(e)
	return nil
}

// churnServices registers every service in turn, each once the one before
// is served, then deregisters them, each once the one before answers 404.
func churnServices(e *env, res *serviceResult) error {
	front, limit := e.ports.front(), 30*time.Second
	var log strings.Builder // events.tsv: wall-clock times, to read beside the logs
	log.WriteString("time\tevent\tservice\tlatency_ms\n")
	defer func() { os.WriteFile(e.path("events.tsv"), []byte(log.String()), 0o644) }()
	note := func(t0 time.Time, what, name string) {
		fmt.Fprintf(&log, "%s\t%s\t%s\t%.1f\n", t0.UTC().Format("15:04:05.000"), what, name, float64(time.Since(t0))/1e6)
	}
	for _, in := range e.insts[1:] {
		t0 := time.Now()
		if err := registerRouted(e, in); err != nil {
			return err
		}
		if err := pollFor(in.id+" served", limit, func() bool { return routeStatus(front, in.id) == http.StatusOK }); err != nil {
			return err
		}
		res.Added = append(res.Added, time.Since(t0))
		note(t0, "register", in.id)
	}
	for _, in := range e.insts[1:] {
		t0 := time.Now()
		if err := e.consul.Agent().ServiceDeregister(in.id); err != nil {
			return fmt.Errorf("deregister %s: %w", in.id, err)
		}
		if err := pollFor(in.id+" 404", limit, func() bool { return routeStatus(front, in.id) == http.StatusNotFound }); err != nil {
			return err
		}
		res.Gone = append(res.Gone, time.Since(t0))
		note(t0, "deregister", in.id)
	}
	return nil
}

// registerRouted registers in as a service of its own name, routed by the
// tag urlprefix-/NAME, with an HTTP check of /health every 500 ms.
func registerRouted(e *env, in *instance) error {
	return e.consul.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: in.id, Name: in.id, Address: "127.0.0.1", Port: in.port,
		Tags: []string{"urlprefix-/" + in.id},
		Check: &api.AgentServiceCheck{
			HTTP:     fmt.Sprintf("http://127.0.0.1:%d/health", in.port),
			Interval: "500ms", Timeout: "1s", Status: api.HealthPassing,
		},
	})
}

// routeStatus is the status of GET /NAME/x through the proxy, on a
// connection of its own (a reload closes idle ones): 200 only when NAME's
// instance answered, 0 when the request failed.
func routeStatus(front int, name string) int {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/%s/x", front, name))
	if err != nil {
		return 0
	}
	code := resp.StatusCode
	id, err := readID(resp)
	if code == http.StatusOK && (err != nil || id != name) {
		return -1 // another instance answered: a wrong route
	}
	return code
}

// pollFor is waitFor at a finer step: ok every 10 ms until it holds or
// timeout passes.
func pollFor(what string, timeout time.Duration, ok func() bool) error {
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after %s", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
