package main

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// spreadCell prints durations as "median / p90 / max" in ms (nearest rank),
// "—" when there are none.
func spreadCell(ds []time.Duration) string {
	if len(ds) == 0 {
		return "—"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%s / %s / %s", ms(percentile(s, 0.5)), ms(percentile(s, 0.9)), ms(s[len(s)-1]))
}

// servicesTable prints the rows of the services scenario as markdown.
func servicesTable(rs []serviceResult) string {
	var b strings.Builder
	b.WriteString("| stack | reloads | failed requests | registration → first 200, median / p90 / max ms | deregistration → 404, median / p90 / max ms | svc backends left | controller CPU (of which children), s | throughput, req/s | load |\n")
	b.WriteString("|---|---:|---:|---|---|---:|---:|---:|---:|\n")
	for _, r := range rs {
		if r.Err != "" {
			fmt.Fprintf(&b, "| %s | run failed: %s |\n", r.Stack, strings.ReplaceAll(r.Err, "|", "/"))
			continue
		}
		cpu := "—"
		if r.CPU >= 0 {
			cpu = fmt.Sprintf("%.2f (%.2f)", r.CPU.Seconds(), r.ChildCPU.Seconds())
		}
		fmt.Fprintf(&b, "| %s | %s | %d%s | %s | %s | %s | %s | %.0f | %s |\n", r.Stack, count(r.Reloads), r.Failed, r.FailedDetail,
			spreadCell(r.Added), spreadCell(r.Gone), count(r.Backends), cpu, r.Throughput, r.Load)
	}
	return b.String()
}

// servicesReport is the markdown document of make bench-services.
func servicesReport(o *options, rs []serviceResult, started time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", o.title)
	fmt.Fprintf(&b, "Run %s, %s, on %d CPUs (load average at the start: %s; at the end: %s).\n\n",
		started.UTC().Format("2006-01-02 15:04 MST"), time.Since(started).Round(time.Second), runtime.NumCPU(), o.load, loadavg())
	if o.command != "" {
		fmt.Fprintf(&b, "Command: `%s`\n\n", o.command)
	}
	fmt.Fprintf(&b, "%d routed services added one by one, then removed one by one, under wrk load on a stable route.\n\n", o.services)
	b.WriteString(servicesTable(rs))
	fmt.Fprintf(&b, `
- **reloads**: the HAProxy master's reload counter (`+"`show proc`"+` on the master socket) after the run minus before.
- **failed requests**: of the wrk load on the stable route, wrk's "Non-2xx or 3xx responses" plus its socket errors (connect, read, write, timeout).
- **registration → first 200**: from just before the registration of service svc-NN (Consul agent API) to the first `+"`GET /svc-NN/x`"+` through the proxy that svc-NN's instance answered with 200; one request every 10 ms or so (each on a new connection, 2 s timeout). The next service is registered once this one is served.
- **deregistration → 404**: from just before the deregistration to the first such request answered 404 (no route); the instance keeps running, so the 404 is the route's removal, not a dead server. The next is deregistered once this one answers 404.
- **svc backends left**: backends named svc-* that HAProxy still has at the end (`+"`show backend`"+`): 0 when every removed service's backend is gone, at runtime (3.4) or by a reload.
- **controller CPU**: CPU time over the run of harender or consul-template, with the children it waited for; in parentheses the children's share: `+"`haproxy -c`"+` (harender checks every candidate config; consul-template's reload script checks before it reloads) and the reload script.
- **throughput**: wrk's requests on the stable route divided by its duration.
- **load**: the 1-minute load average at the end of the run; the machine is shared, and a high load makes every figure slower.
`)
	b.WriteString("\n## Settings\n\n")
	fmt.Fprintf(&b, "- Versions: harender %s; HAProxy 3.0 = %s, 3.4 = %s; %s; consul-template %s; %s.\n",
		o.rev, version(o.haproxy30, "-v"), version(o.haproxy34, "-v"), version(o.consul, "version"),
		version(o.consulTemplate, "-v"), version(o.wrk, "-v"))
	b.WriteString("- Everything on loopback, one run per stack, each with a fresh Consul dev agent, fresh instances and a fresh proxy.\n")
	fmt.Fprintf(&b, "- Load: `wrk -t 2 -c %d --timeout 10s --latency` on `GET /stable/x` through the proxy, from 1 s after the stable route is served until %s after the last 404.\n", o.conns, tail)
	fmt.Fprintf(&b, "- Services: \"stable\" and svc-01 .. svc-%02d, each one instance (`bench instance`, answering \"hello from NAME\" on every path and serving /health), all started before the load; each registered as service NAME, instance id NAME, tag `urlprefix-/NAME`, with an HTTP check of /health every 500ms, timeout 1s, registered passing.\n", o.services)
	b.WriteString("- harender: `harender run` with the built-in template `routes` (a config block with `params = { bind, map, check_path = \"/health\" }` and a map block with `params = { output = \"map\" }`), which starts HAProxy (master-worker) itself; `reload = \"auto\"`, `min_reload_interval` 1s, `reconcile_interval` 10s (the defaults); no `wait` block. On 3.4 a new service is a backend added at runtime (`add backend NAME from routes.backend`, `add server`, `publish backend`) and a route added to the map; a removed one leaves the map, is unpublished and deleted. On 3.0 each new or removed service is a reload.\n")
	fmt.Fprintf(&b, "- consul-template: `consul-template -template \"haproxy.cfg.tmpl:haproxy.cfg:%s HAPROXY haproxy.cfg master.sock\"`, no wait; on every render the script runs `haproxy -c` and sends `reload` to the master socket with socat. HAProxy started once by the harness (`haproxy -W -S master.sock`). Its template, below, ranges over `services`, and for each tag `urlprefix-/PATH` writes `use_backend NAME if { path_beg /PATH }`, and a backend per such service with a server per passing instance.\n", filepath.Base(o.reloadScript))
	b.WriteString("- HAProxy settings, the same on both: the routes template's global and defaults sections (mode http, option idle-close-on-response, timeout connect 2s, client 30s, server 30s, http-keep-alive 10s, retries 3, option redispatch 1, retry-on all-retryable-errors, load-server-state-from-file global, hard-stop-after 30s), and for every backend a named defaults section with balance roundrobin, `option httpchk GET /health`, `http-check expect status 200`, `default-server inter 1s fastinter 250ms downinter 1s fall 2 rise 2 pool-purge-delay 500ms`; a request with no route gets 404. Differences: harender routes through a map file (`map_beg`, changed at runtime), consul-template through one `use_backend` rule per route; harender's config also has guids (3.0+) and a shm-stats-file (3.4), which keep counters over reloads; consul-template's reload script does not save the server state before a reload (a new process starts its servers up, as with no state file).\n")
	b.WriteString("\nconsul-template's template (RUN is the run's folder):\n\n```\n")
	b.WriteString(routesTemplate(&env{dir: "RUN", ports: ports{o.portBase}}))
	b.WriteString("```\n")
	return b.String()
}
