package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// report is the markdown document: the table, then every setting.
func report(o *options, rs []result, started time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", o.title)
	fmt.Fprintf(&b, "Run %s, %s, on %d CPUs (load average at the start: %s; at the end: %s).\n\n",
		started.UTC().Format("2006-01-02 15:04 MST"), time.Since(started).Round(time.Second), runtime.NumCPU(), o.load, loadavg())
	if o.command != "" {
		fmt.Fprintf(&b, "Command: `%s`\n\n", o.command)
	}
	b.WriteString(table(rs, o.kvEvery > 0))
	b.WriteString(`
- **failed requests**: wrk's "Non-2xx or 3xx responses" plus its socket errors (connect, read, write, timeout).
- **reloads**: the master's reload counter (` + "`show proc`" + ` on the master socket) after the run minus before; — for Fabio, which does not reload.
- **runtime updates**: harender's ` + "`harender_haproxy_runtime_updates_total{result=\"ok\"}`" + ` over the run; — for the others.
- **up**: from the event (the Consul write, the Serf agent started, the restart of a killed instance, the health check made to pass) to the first probe request that the instance answered and that was sent after the event.
- **down**: from the event (the Consul deregistration, the Serf agent's SIGINT, the health check made to fail, the kill -9) to the last probe request the instance answered; for kill also the last probe request that failed; 0 when there was none. A down event of an instance that served no probe request since its previous event (its join was never seen) is left out.
- "(k of n never)": events whose instance was not seen (up) before its next event or the end of the run.
- **controller CPU**: CPU time over the run of the program that keeps the proxy in step (harender, consul-template, the load balancer's Serf agent), with the children it waited for (haproxy -c, reload scripts, event handlers); — for Fabio, which is the proxy as well.
- **throughput**: wrk's requests divided by its duration, while the events ran.
- **load**: the 1-minute load average at the end of the run; the machine is shared, and a high load makes every figure slower.
`)
	b.WriteString(settings(o))
	return b.String()
}

func settings(o *options) string {
	var b strings.Builder
	b.WriteString("\n## Settings\n\n")
	fmt.Fprintf(&b, "- Versions: harender %s; HAProxy 2.6 = %s, 3.0 = %s, 3.4 = %s; %s; consul-template %s; Fabio %s; %s; %s.\n",
		firstLine(gitRev()), version(o.haproxy26, "-v"), version(o.haproxy30, "-v"), version(o.haproxy34, "-v"), version(o.consul, "version"),
		version(o.consulTemplate, "-v"), version(o.fabio, "-v"), version(o.serf, "version"), version(o.wrk, "-v"))
	fmt.Fprintf(&b, "- Everything on loopback, one run per stack and scenario, each with a fresh Consul dev agent (or fresh Serf agents), fresh instances and a fresh proxy.\n")
	fmt.Fprintf(&b, "- Load: `wrk -t 2 -c %d --latency` on GET / through the proxy for the whole run (%s before the first event, %s after the last); %d probe clients send GET / back to back, each on its own keep-alive connection, and record which instance answered.\n", o.conns, warmup, tail, o.probes)
	fmt.Fprintf(&b, "- Instances: 3 stable ones, gw-1 .. gw-3 (and gw-4, gw-5 for churn), each a process (`bench instance`) that answers \"hello from gw-N\" and serves /health.\n")
	fmt.Fprintf(&b, "- churn: %d events, one every %s: gw-4 joins, gw-5 joins, gw-4 leaves, gw-5 leaves, and again. On Consul a join is a registration and a leave a deregistration through the agent's API; on Serf a join starts the instance's Serf agent, a leave is its graceful leave (SIGINT). The K-th agent of gw-N is node gw-N.K on a port of its own, since the last one may still be leaving (about a second).", o.events, o.interval)
	if o.kvEvery > 0 {
		fmt.Fprintf(&b, " After every %d-th event, half an interval later, the KV key bench/rev is written: the template echoes it in an X-Bench-Rev response header, a change that needs a reload.", o.kvEvery)
	}
	if strings.Contains(o.scenarios, "mixed") {
		fmt.Fprintf(&b, "\n- mixed: %d events, one every %s, in turn: gw-4 joins, gw-5 joins, gw-4's check fails (Consul maintenance mode on: a critical check, one Consul write), gw-5's weight goes to 5 (registered again), gw-4's check passes (maintenance off), gw-5's weight goes back to 1, gw-4 leaves, gw-5 leaves, and again. Weight changes are not timed (no probe can see one); they show in reloads and runtime updates.", o.events, o.interval)
		if o.kvEvery > 0 {
			fmt.Fprintf(&b, " The KV key as in churn, after every %d-th event.", o.kvEvery)
		}
	}
	fmt.Fprintf(&b, "\n- kill: `kill -9` of gw-3 (on Serf, of its Serf agent too, as a crashed host), restarted on the same port %s later; the load goes on 8 s after the restart, so that its return is seen.\n", o.killFor)
	fmt.Fprintf(&b, "- flap: gw-3's /health fails, then passes, every 2 s; %d changes.\n", o.flaps)
	b.WriteString("- Consul: `consul agent -dev`; each instance registered by the harness as service \"gateway\" with tag `urlprefix-/` (Fabio's route) and an HTTP check of /health every 500ms, timeout 1s.\n")
	b.WriteString("- Serf: `serf agent` with its default (LAN) timing; the load balancer's agent is node \"lb\"; each instance's agent has tags role=gateway and port=N and joins lb.\n")
	b.WriteString("- harender: `harender run`, which starts HAProxy (master-worker, master socket) itself; `reload = \"auto\"` (runtime API when only servers change), or `\"always\"` for harender-always; `min_reload_interval` 1s (the default); no `wait` block. On Serf: a `serf { rpc_addr }` block and `serfMembers \"role=gateway\"` in the template.\n")
	fmt.Fprintf(&b, "- consul-template: `consul-template -template \"haproxy.cfg.tmpl:haproxy.cfg:%s HAPROXY haproxy.cfg master.sock\"`, no wait; the script runs `haproxy -c` and sends `reload` to the master socket with socat. The same template file as harender's.\n", filepath.Base(o.reloadScript))
	fmt.Fprintf(&b, "- Serf + HAProxy: the load balancer's Serf agent runs `%s` on member-join, member-leave and member-failed: it rewrites the server list from `serf members -status alive -tag role=gateway` after the header below, and runs the same check-and-reload script.\n", filepath.Base(o.serfHandler))
	b.WriteString("- Fabio: `fabio -registry.consul.addr ... -registry.consul.register.enabled=false -proxy.addr ... -proxy.strategy rr`, all else default (it follows Consul's passing instances; it has no health checks of its own).\n")
	b.WriteString("- HAProxy: the same header for every HAProxy stack (below; the built-in `gateway` template's settings), then `server NAME 127.0.0.1:PORT check` per instance, and on the Consul stacks `weight W` (the Consul weight, 1 unless set):\n\n```\n")
	e := &env{dir: "RUN", ports: ports{o.portBase}}
	b.WriteString(header(e, ""))
	b.WriteString("```\n")
	return b.String()
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// version is the first line a binary prints about itself.
func version(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return filepath.Base(bin) + " (not found)"
	}
	return strings.TrimSpace(firstLine(string(out)))
}

func gitRev() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// plot writes the data beside the PNG (.dat) and draws it with gnuplot:
// per scenario, the latencies (log scale) above the failed requests.
func plot(o *options, rs []result) error {
	dat := strings.TrimSuffix(o.plot, filepath.Ext(o.plot)) + ".dat"
	var d bytes.Buffer
	var scs []string
	for _, r := range rs {
		if len(scs) == 0 || scs[len(scs)-1] != r.Scenario {
			if len(scs) > 0 {
				d.WriteString("\n\n")
			}
			scs = append(scs, r.Scenario)
			d.WriteString("# stack up_p50_ms up_p99_ms down_p50_ms down_p99_ms failed\n")
		}
		if r.Err != "" {
			continue
		}
		fmt.Fprintf(&d, "%q %s %s %s %s %d\n", r.Stack, floor(r.Up.P50, r.Up.N), floor(r.Up.P99, r.Up.N),
			floor(r.Down.P50, r.Down.N), floor(r.Down.P99, r.Down.N), r.Failed)
	}
	if err := os.WriteFile(dat, d.Bytes(), 0o644); err != nil {
		return err
	}
	var g strings.Builder
	cols := len(scs)
	if cols == 1 { // one scenario: its distributions beside the bars
		cols = 2
	}
	fmt.Fprintf(&g, "set terminal pngcairo size %d,900 font ',9'\nset output %q\n", 560*cols, o.plot)
	fmt.Fprintf(&g, "set multiplot layout 2,%d title %q\n", cols, o.title+": event to served (log scale) and failed requests")
	g.WriteString("set termoption noenhanced\nset style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n")
	g.WriteString("set xtics rotate by -35 scale 0\nset key top left\nset grid ytics\n")
	for i, sc := range scs {
		fmt.Fprintf(&g, "set title %q\nset logscale y\nset yrange [0.1:100000]\nset key horizontal top left\nset ylabel 'ms'\n", sc)
		fmt.Fprintf(&g, "plot %q index %d using 2:xtic(1) title 'up p50', '' index %d using 3 title 'up p99', '' index %d using 4 title 'down p50', '' index %d using 5 title 'down p99'\n", dat, i, i, i, i)
	}
	for i, sc := range scs {
		fmt.Fprintf(&g, "set title %q\nunset logscale y\nset yrange [0:*]\nset key vertical top left\nset ylabel 'failed requests'\n", sc)
		fmt.Fprintf(&g, "plot %q index %d using 6:xtic(1) title 'failed requests' lc rgb '#c03030'\n", dat, i)
	}
	if len(scs) == 1 {
		if err := plotCDF(&g, rs, strings.TrimSuffix(dat, ".dat")+".cdf.dat"); err != nil {
			return err
		}
	}
	g.WriteString("unset multiplot\n")
	cmd := exec.Command(o.gnuplot)
	cmd.Stdin = strings.NewReader(g.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", o.gnuplot, err, out)
	}
	return nil
}

// floor is a latency in ms for the log-scale plot: 0.1 at least, and NaN
// (no bar) when there were no such events.
func floor(d time.Duration, n int) string {
	if n == 0 {
		return "NaN"
	}
	return fmt.Sprintf("%.2f", max(0.1, float64(d)/float64(time.Millisecond)))
}

// plotCDF adds two panels, the distributions of up and of down latencies
// per stack (the fraction of events served within x ms), with their data.
func plotCDF(g *strings.Builder, rs []result, path string) error {
	var d bytes.Buffer
	var titles []string
	for _, r := range rs {
		if r.Err != "" {
			continue
		}
		for _, ds := range []dist{r.Up, r.Down} {
			fmt.Fprintf(&d, "# %s\n", r.Stack)
			total := ds.N + ds.Missed
			for i, v := range ds.sorted {
				fmt.Fprintf(&d, "%.2f %.4f\n", max(0.1, float64(v)/float64(time.Millisecond)), float64(i+1)/float64(total))
			}
			if ds.N == 0 {
				d.WriteString("NaN NaN\n")
			}
			d.WriteString("\n\n")
		}
		titles = append(titles, r.Stack)
	}
	if err := os.WriteFile(path, d.Bytes(), 0o644); err != nil {
		return err
	}
	g.WriteString("set style data steps\nset key bottom right\nunset xtics\nset xtics auto rotate by 0\nset logscale x\nset xrange [0.1:*]\nunset logscale y\nset yrange [0:1]\nset ylabel 'fraction of events served'\nset xlabel 'ms after the event'\n")
	for k, kind := range []string{"up: event to first served", "down: event to last served"} {
		fmt.Fprintf(g, "set title %q\nplot ", kind)
		for i, t := range titles {
			if i > 0 {
				g.WriteString(", ")
			}
			fmt.Fprintf(g, "%q index %d using 1:2 title %q", path, 2*i+k, t)
		}
		g.WriteString("\n")
	}
	return nil
}
