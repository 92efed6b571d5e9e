// Command bench is the measurement harness of make compare and make
// bench-churn: it runs proxy stacks (harender, consul-template + HAProxy,
// Fabio, Serf + HAProxy, harender on Serf) through the same scenarios
// (churn, kill, flap) on loopback, under wrk load, with a probe client that
// records which instance answered each request, and prints a markdown table
// of failed requests, reloads, event-to-served latency and throughput.
//
// It is not part of harender's binary: go build -o bin/harender-bench ./tools/bench
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "instance" {
		if err := runInstance(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "instance:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run(os.Args[1:]))
}

// options are the flags; every setting the report states comes from here.
type options struct {
	stacks, scenarios                        string
	events, flaps, probes, conns, kvEvery    int
	services                                 int
	portBase                                 int
	interval, killFor                        time.Duration
	harender, consul, consulTemplate, fabio  string
	serf, haproxy26, haproxy30, wrk, gnuplot string
	haproxy34, rev                           string
	reloadScript, serfHandler                string
	work, out, plot, title, command          string
	keep, smoke, debug                       bool
	load                                     string // load average at the start
}

func run(args []string) int {
	root, _ := os.Getwd()
	bin := filepath.Join(root, "bin")
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.stacks, "stacks", "harender@2.6,harender@3.0,consul-template@2.6,consul-template@3.0,fabio,serf@2.6,serf@3.0", "`LIST` of stacks: harender, harender-always, consul-template, serf, harender-serf, static (each @2.6, @3.0 or @3.4; static: HAProxy on the stable instances, nothing following Consul, the floor of a churn run), fabio")
	fs.StringVar(&o.scenarios, "scenarios", "churn,kill,flap", "`LIST` of scenarios: churn, mixed (joins, leaves, checks failing and passing, weights; Consul stacks), steady (churn's length, no event), kill, flap; or services alone (harender and consul-template stacks)")
	fs.IntVar(&o.services, "services", 20, "services: routed services added, then removed, one by one")
	fs.IntVar(&o.events, "events", 100, "churn, mixed: membership events")
	fs.DurationVar(&o.interval, "interval", 250*time.Millisecond, "churn, mixed: time between events")
	fs.IntVar(&o.kvEvery, "kv-every", 0, "churn, mixed: after every `K`-th event, a write of the KV key the template reads (0: none)")
	fs.DurationVar(&o.killFor, "kill-for", 15*time.Second, "kill: time until the killed instance restarts")
	fs.IntVar(&o.flaps, "flaps", 10, "flap: health changes, one every 2s")
	fs.IntVar(&o.probes, "probes", 4, "probe clients, each sending requests back to back")
	fs.IntVar(&o.conns, "conns", 32, "wrk keep-alive connections (2 threads)")
	fs.IntVar(&o.portBase, "port-base", 29000, "first of the loopback ports used")
	fs.BoolVar(&o.smoke, "smoke", false, "a short run: 8 churn events, kill for 4s, 4 flaps")
	fs.BoolVar(&o.debug, "harender-debug", false, "services: harender logs at level debug (when each dependency updated)")
	fs.BoolVar(&o.keep, "keep", false, "keep every run's folder (logs, configs); failed runs are always kept")
	fs.StringVar(&o.work, "work", os.TempDir(), "`DIR` for the runs' folders")
	fs.StringVar(&o.out, "out", "", "markdown `FILE` to write the report to (default: stdout only)")
	fs.StringVar(&o.plot, "plot", "", "PNG `FILE` for the plot (needs gnuplot)")
	fs.StringVar(&o.title, "title", "make compare", "report title")
	fs.StringVar(&o.command, "command", "", "the command line to print in the report")
	fs.StringVar(&o.rev, "rev", "", "harender's revision as the services report states it (default: git describe --always --dirty)")
	fs.StringVar(&o.harender, "harender", filepath.Join(bin, "harender"), "harender `BINARY`")
	fs.StringVar(&o.consul, "consul", filepath.Join(bin, "consul"), "consul `BINARY`")
	fs.StringVar(&o.consulTemplate, "consul-template", filepath.Join(bin, "consul-template"), "consul-template `BINARY`")
	fs.StringVar(&o.fabio, "fabio", filepath.Join(bin, "fabio"), "fabio `BINARY`")
	fs.StringVar(&o.serf, "serf", "/usr/bin/serf", "serf `BINARY`")
	fs.StringVar(&o.haproxy26, "haproxy-2.6", "/usr/sbin/haproxy", "HAProxy 2.6 `BINARY`")
	fs.StringVar(&o.haproxy30, "haproxy-3.0", filepath.Join(bin, "haproxy-3.0"), "HAProxy 3.0 `BINARY`")
	fs.StringVar(&o.haproxy34, "haproxy-3.4", filepath.Join(bin, "haproxy-3.4"), "HAProxy 3.4 `BINARY`")
	fs.StringVar(&o.wrk, "wrk", "wrk", "wrk `BINARY`")
	fs.StringVar(&o.gnuplot, "gnuplot", "gnuplot", "gnuplot `BINARY`")
	fs.StringVar(&o.reloadScript, "reload-script", filepath.Join(root, "scripts", "compare-haproxy-reload.sh"), "`SCRIPT` HAPROXY CFG MASTER_SOCKET: check and reload (consul-template, Serf handler)")
	fs.StringVar(&o.serfHandler, "serf-handler", filepath.Join(root, "scripts", "compare-serf-handler.sh"), "Serf event handler `SCRIPT`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.smoke { // the short run, unless a flag said otherwise
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["events"] {
			o.events = 8
		}
		if !set["kill-for"] {
			o.killFor = 4 * time.Second
		}
		if !set["flaps"] {
			o.flaps = 4
		}
	}
	specs, err := parseStacks(o.stacks, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if o.scenarios == "services" {
		if o.rev == "" {
			o.rev = firstLine(gitRev())
		}
		for _, sp := range specs {
			if sp.kind != "harender" && sp.kind != "consul-template" {
				fmt.Fprintf(os.Stderr, "bench: stack %q: the services scenario runs harender and consul-template only\n", sp.name)
				return 2
			}
		}
		return servicesMain(o, specs)
	}
	var scs []scenario
	for _, name := range strings.Split(o.scenarios, ",") {
		sc, ok := scenarios[strings.TrimSpace(name)]
		if !ok {
			fmt.Fprintf(os.Stderr, "bench: unknown scenario %q (churn, mixed, steady, kill, flap)\n", name)
			return 2
		}
		scs = append(scs, sc)
	}
	started := time.Now()
	o.load = loadavg()
	var rs []result
	for _, sc := range scs {
		for _, sp := range specs {
			fmt.Fprintf(os.Stderr, "bench: %s, %s ...\n", sp.name, sc.name)
			r := runOne(o, sp, sc)
			if r.Err != "" {
				fmt.Fprintf(os.Stderr, "bench: %s, %s: %s\n", sp.name, sc.name, r.Err)
			} else {
				fmt.Fprintf(os.Stderr, "bench: %s, %s: failed %d%s, reloads %s, up %s, down %s, %.0f req/s\n",
					sp.name, sc.name, r.Failed, r.FailedDetail, count(r.Reloads), r.Up.cell(), r.Down.cell(), r.Throughput)
			}
			rs = append(rs, r)
		}
	}
	doc := report(o, rs, started)
	fmt.Print(doc)
	status := 0
	for _, r := range rs {
		if r.Err != "" {
			status = 1
		}
	}
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(doc), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	if o.plot != "" {
		if err := plot(o, rs); err != nil {
			fmt.Fprintln(os.Stderr, "bench: plot:", err)
			return 1
		}
	}
	return status
}
