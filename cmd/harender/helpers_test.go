package main

// Test setup shared by the end-to-end and fault tests: harender in-process
// (render and run), the harender.hcl they render the gateway template
// with, a Consul agent with gateways, and what the tests read back (HAProxy's
// answers and headers, /healthz, /metrics, the log).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
	"github.com/harender/harender/templates"
)

// harender runs the command line in-process and returns its exit code,
// stdout and stderr.
func harender(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	code := run(ctx, append([]string{"harender"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// gatewaySetup is a temp dir with a harender.hcl that renders the gateway
// template for service "gateway" into DIR/haproxy.cfg.
type gatewaySetup struct {
	dir, config, haproxyCfg, master, runtime, bind string
	source                                         string // the template file, if not the built-in
}

// gatewayOptions are what differs between the tests' harender.hcl files.
// Every one has the consul block, with a short retry, the template and the
// haproxy binary, config and sockets.
type gatewayOptions struct {
	// source, if set, names a file next to the config that holds the
	// built-in gateway template followed by extra, rendered instead of
	// the built-in.
	source, extra string
	// wait adds a wait block of 50ms to 200ms.
	wait bool
	// start has harender start HAProxy.
	start bool
	// serverStateFile and minReloadInterval set these haproxy attributes.
	serverStateFile, minReloadInterval string
}

func newGatewaySetup(t *testing.T, consulAddr, haproxyBin string, o gatewayOptions) gatewaySetup {
	t.Helper()
	dir := t.TempDir()
	s := gatewaySetup{
		dir:        dir,
		config:     filepath.Join(dir, "harender.hcl"),
		haproxyCfg: filepath.Join(dir, "haproxy.cfg"),
		master:     filepath.Join(dir, "master.sock"),
		runtime:    filepath.Join(dir, "admin.sock"),
		bind:       fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
	}
	var b strings.Builder
	fmt.Fprintf(&b, `
consul {
  address = %q
  retry {
    backoff     = "50ms"
    max_backoff = "500ms"
  }
}
`, consulAddr)
	if o.wait {
		b.WriteString(`wait {
  min = "50ms"
  max = "200ms"
}
`)
	}
	tmpl := `builtin     = "gateway"`
	if o.source != "" {
		text, _ := templates.Get("gateway")
		s.source = writeFile(t, filepath.Join(dir, o.source), text+o.extra)
		tmpl = fmt.Sprintf("source      = %q", o.source)
	}
	fmt.Fprintf(&b, `template {
  %s
  params      = { service = "gateway", bind = %q, shm_stats_file = %q }
  destination = "haproxy.cfg"
}
haproxy {
`, tmpl, s.bind, filepath.Join(dir, "stats.shm")) // HAProxy 3.4 leaves it behind: in the temp dir
	attr := func(name, value string) { fmt.Fprintf(&b, "  %-19s = %s\n", name, value) }
	attr("binary", strconv.Quote(haproxyBin))
	attr("config", `"haproxy.cfg"`)
	attr("master_socket", `"master.sock"`)
	attr("runtime_socket", `"admin.sock"`)
	if o.serverStateFile != "" {
		attr("server_state_file", strconv.Quote(o.serverStateFile))
	}
	if o.start {
		attr("start", "true")
	}
	if o.minReloadInterval != "" {
		attr("min_reload_interval", strconv.Quote(o.minReloadInterval))
	}
	b.WriteString("}\n")
	writeFile(t, s.config, b.String())
	return s
}

// runOptions configure harender run to start HAProxy itself and to render
// the gateway template, followed by extra, from a file, so tests can edit it.
func runOptions(extra string) gatewayOptions {
	return gatewayOptions{
		source: "gateway.tmpl", extra: extra, wait: true, start: true,
		serverStateFile: "server-state", minReloadInterval: "1s",
	}
}

// runSetup writes a config with runOptions(extra) and returns it and the
// path of the template file.
func runSetup(t *testing.T, consulAddr, bin string, extra string) (gatewaySetup, string) {
	t.Helper()
	s := newGatewaySetup(t, consulAddr, bin, runOptions(extra))
	return s, s.source
}

// supervisedSetup is runSetup("") for an HAProxy that the test runs, as a
// supervisor would, not harender (start = false).
func supervisedSetup(t *testing.T, consulAddr, bin string) gatewaySetup {
	t.Helper()
	o := runOptions("")
	o.start = false
	return newGatewaySetup(t, consulAddr, bin, o)
}

// renderAndStartHAProxy renders s once with harender render and starts
// HAProxy on the result, as a supervisor would.
func renderAndStartHAProxy(t *testing.T, bin string, s gatewaySetup) *testenv.HAProxy {
	t.Helper()
	if code, _, stderr := harender(t, "render", "--config", s.config); code != exitOK {
		t.Fatalf("render: exit %d\n%s", code, stderr)
	}
	return testenv.StartHAProxy(t, bin, s.haproxyCfg)
}

// startGateways starts a Consul agent and n instances of service
// "gateway", gw-1 to gw-n, and waits until all n pass their checks.
func startGateways(t *testing.T, n int) (*testenv.Consul, []*testenv.Gateway) {
	t.Helper()
	consul := testenv.StartConsul(t)
	var gws []*testenv.Gateway
	for i := 1; i <= n; i++ {
		gws = append(gws, testenv.StartGateway(t, consul, "gateway", fmt.Sprintf("gw-%d", i)))
	}
	consul.WaitPassing(t, "gateway", n)
	return consul, gws
}

// startServing starts harender run on s and waits until it is healthy and
// n instances answer through HAProxy at url.
func startServing(t *testing.T, s gatewaySetup, n int) (r *sidecarRun, url string) {
	t.Helper()
	r = startRun(t, s.config)
	r.waitHealthy(t)
	url = "http://" + s.bind + "/"
	waitAnswers(t, url, n)
	return r, url
}

// sidecarRun is harender run, in-process, stopped when the test ends.
type sidecarRun struct {
	listen string
	cancel context.CancelFunc
	done   chan int
	logs   testenv.LockedBuffer
}

// Logs is what harender run logged so far.
func (r *sidecarRun) Logs() string { return r.logs.String() }

func startRun(t *testing.T, config string) *sidecarRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &sidecarRun{listen: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), cancel: cancel, done: make(chan int, 1)}
	go func() {
		r.done <- run(ctx, []string{"harender", "run", "--config", config, "--listen", r.listen, "--log-level", "debug"}, io.Discard, &r.logs)
	}()
	t.Cleanup(func() {
		if code := r.stop(t); code != exitOK {
			t.Errorf("harender run exited %d\n%s", code, r.Logs())
		}
	})
	return r
}

// stop sends the equivalent of SIGTERM and returns the exit code.
func (r *sidecarRun) stop(t *testing.T) int {
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(15 * time.Second):
		t.Fatalf("harender run did not stop within 15s\n%s", r.Logs())
		return -1
	}
}

// get is the status and body of a GET of path on harender's listen address.
func (r *sidecarRun) get(path string) (int, string, error) {
	resp, err := http.Get("http://" + r.listen + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// healthz is /healthz's status and body, without the final newline.
func healthz(t *testing.T, r *sidecarRun) (int, string) {
	t.Helper()
	code, body, err := r.get("/healthz")
	if err != nil {
		return 0, ""
	}
	return code, strings.TrimSuffix(body, "\n")
}

func (r *sidecarRun) healthy() bool {
	code, _, _ := r.get("/healthz")
	return code == http.StatusOK
}

func (r *sidecarRun) waitHealthy(t *testing.T) {
	t.Helper()
	if !poll(20*time.Second, 50*time.Millisecond, r.healthy) {
		t.Fatalf("/healthz never answered 200\n%s", r.Logs())
	}
}

// metrics is the text of /metrics.
func (r *sidecarRun) metrics(t *testing.T) string {
	t.Helper()
	_, body, err := r.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// metric reads one sample from /metrics, 0 if absent.
func (r *sidecarRun) metric(t *testing.T, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(r.metrics(t))
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// metricSum adds up every sample of a metric, whatever its labels.
func (r *sidecarRun) metricSum(t *testing.T, name string) float64 {
	t.Helper()
	var sum float64
	for _, m := range regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(name)+`(?:\{[^}]*\})? (\S+)$`).FindAllStringSubmatch(r.metrics(t), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		sum += v
	}
	return sum
}

// okReloads is the metric of reloads harender confirmed.
const okReloads = `harender_haproxy_reloads_total{result="ok"}`

// waitReloadsAgree waits until done holds and every reload HAProxy's
// show proc counts is one /metrics counts as confirmed; it returns both.
func (r *sidecarRun) waitReloadsAgree(t *testing.T, master string, done func() bool) (float64, haproxy.Procs) {
	t.Helper()
	var reloads float64
	var procs haproxy.Procs
	waitFor(t, r, "show proc and /metrics to agree", func() bool {
		var err error
		procs, err = (&haproxy.Master{Path: master}).ShowProc(t.Context())
		reloads = r.metric(t, okReloads)
		return err == nil && done() && float64(procs.Master.Reloads) == reloads
	})
	return reloads, procs
}

// poll calls cond every interval until it holds, for at most d, and
// reports whether it held.
func poll(d, every time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(every) {
		if cond() {
			return true
		}
	}
	return false
}

// waitFor waits up to 20s for cond, and fails with harender's log.
func waitFor(t *testing.T, r *sidecarRun, what string, cond func() bool) {
	t.Helper()
	if !poll(20*time.Second, 50*time.Millisecond, cond) {
		t.Fatalf("timed out waiting for %s\n%s", what, r.Logs())
	}
}

// waitWithin is waitFor with a deadline of the caller's.
func waitWithin(t *testing.T, r *sidecarRun, what string, d time.Duration, cond func() bool) {
	t.Helper()
	if !poll(d, 100*time.Millisecond, cond) {
		t.Fatalf("timed out after %s waiting for %s\n%s", d, what, lastLines(r.Logs(), 40))
	}
}

// waitAnswers waits until n distinct instances answer through url.
func waitAnswers(t *testing.T, url string, n int) {
	t.Helper()
	waitAnswersWithin(t, url, n, 10*time.Second, nil)
}

// waitAnswersWithin waits up to d until n distinct instances answer
// through url; logs, if not nil, gives the log to fail with.
func waitAnswersWithin(t *testing.T, url string, n int, d time.Duration, logs func() string) {
	t.Helper()
	var got map[string]int
	var err error
	if poll(d, 200*time.Millisecond, func() bool {
		got, err = testenv.Answers(url, 3*n)
		return err == nil && len(got) == n
	}) {
		return
	}
	msg := fmt.Sprintf("want %d instances answering at %s within %s, got %v (err %v)", n, url, d, got, err)
	if logs != nil {
		msg += "\n" + lastLines(logs(), 40)
	}
	t.Fatal(msg)
}

// haproxyHeader is the header name that HAProxy at bind adds now to its
// answers, or "".
func haproxyHeader(bind, name string) string {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + bind + "/")
	if err != nil {
		return ""
	}
	resp.Body.Close()
	return resp.Header.Get(name)
}

// masterPID is the pid of the master answering on socket.
func masterPID(t *testing.T, socket string) int {
	t.Helper()
	p, err := (&haproxy.Master{Path: socket}).ShowProc(t.Context())
	if err != nil {
		t.Fatalf("show proc on %s: %v", socket, err)
	}
	return p.Master.PID
}

// holdPort listens on addr, as another program would, until the returned
// listener is closed or the test ends.
func holdPort(t *testing.T, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("hold %s: %v", addr, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// serverWatch polls a rendered haproxy.cfg for the fewest server lines it
// ever held, and whether it was ever missing or empty.
type serverWatch struct {
	quit  chan struct{}
	least chan int
	empty chan bool
}

func watchServers(path string) *serverWatch {
	w := &serverWatch{quit: make(chan struct{}), least: make(chan int, 1), empty: make(chan bool, 1)}
	go func() {
		least, empty := 1<<30, false
		for {
			select {
			case <-w.quit:
				w.least <- least
				w.empty <- empty
				return
			case <-time.After(5 * time.Millisecond):
			}
			cfg, err := os.ReadFile(path)
			if err != nil || len(cfg) == 0 {
				empty = true
				continue
			}
			least = min(least, strings.Count(string(cfg), "\n    server "))
		}
	}()
	return w
}

// stop ends the watch and returns its findings.
func (w *serverWatch) stop() (least int, empty bool) {
	close(w.quit)
	return <-w.least, <-w.empty
}

// addWrk adds up two wrk runs, for a fault row whose load ran in parts.
func addWrk(a, b testenv.WrkResult) testenv.WrkResult {
	return testenv.WrkResult{
		Requests: a.Requests + b.Requests, Duration: a.Duration + b.Duration,
		Connect: a.Connect + b.Connect, Read: a.Read + b.Read, Write: a.Write + b.Write, Timeout: a.Timeout + b.Timeout,
		Non2xx: a.Non2xx + b.Non2xx,
	}
}

// errorLine is the first line harender logged at error level that
// contains sub, or "".
func errorLine(logs, sub string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "level=ERROR") && strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// logLine is the first line of logs that holds sub, or "".
func logLine(logs, sub string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// logLines are the lines of logs that hold any of words.
func logLines(logs string, words ...string) string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if slices.ContainsFunc(words, func(w string) bool { return strings.Contains(l, w) }) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// writeFile writes text to path and returns path.
func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// buildHarender builds the command into a temp dir.
func buildHarender(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "harender")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
