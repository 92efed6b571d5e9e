package apply

import "github.com/prometheus/client_golang/prometheus"

// Metrics are what the engine counts.
type Metrics struct {
	Reloads        *prometheus.CounterVec // result: ok, failed
	RuntimeUpdates *prometheus.CounterVec // result: ok, failed
	CheckFailures  prometheus.Counter
	Commands       *prometheus.CounterVec // result: ok, failed
	Drift          *prometheus.CounterVec // kind: see the drift* constants
	HAProxyUp      prometheus.Gauge
	RouteConflicts prometheus.Gauge // routes two services claim (maps.go)
}

// Kinds of drift: HAProxy found not to run what was rendered, and repaired.
const (
	driftNotRunning = "not_running" // HAProxy was not running; started
	driftConfig     = "config"      // HAProxy ran another config; reloaded
	driftServers    = "servers"     // servers differed; fixed at runtime
	driftFile       = "file"        // the file on disk differed; rewritten
)

// NewMetrics makes the engine's metrics and registers them with reg, if
// it is not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harender_haproxy_reloads_total", Help: "HAProxy reloads through the master socket, by result (ok, failed).",
		}, []string{"result"}),
		RuntimeUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harender_haproxy_runtime_updates_total", Help: "Changes applied through the runtime API with no reload, by result.",
		}, []string{"result"}),
		CheckFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "harender_haproxy_check_failures_total", Help: "Candidates that haproxy -c rejected.",
		}),
		Commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harender_commands_total", Help: "Template commands run, by result (ok, failed).",
		}, []string{"result"}),
		Drift: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harender_drift_repaired_total",
			Help: "Times HAProxy was found not to run what was rendered, and brought back, by kind (not_running, config, servers, file).",
		}, []string{"kind"}),
		HAProxyUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "harender_haproxy_up", Help: "1 while HAProxy's master answers, 0 otherwise.",
		}),
		RouteConflicts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "harender_route_conflicts", Help: "Routes that more than one service claims, in the maps HAProxy is to run (the routes template's '# conflict:' lines).",
		}),
	}
	for _, r := range []string{"ok", "failed"} {
		m.Reloads.WithLabelValues(r)
		m.RuntimeUpdates.WithLabelValues(r)
		m.Commands.WithLabelValues(r)
	}
	for _, k := range []string{driftNotRunning, driftConfig, driftServers, driftFile, driftMaps} {
		m.Drift.WithLabelValues(k)
	}
	if reg != nil {
		reg.MustRegister(m.Reloads, m.RuntimeUpdates, m.CheckFailures, m.Commands, m.Drift, m.HAProxyUp, m.RouteConflicts)
	}
	return m
}
