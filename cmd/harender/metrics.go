package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/harender/harender/internal/apply"
	"github.com/harender/harender/watch"
)

// metrics are the sidecar's Prometheus metrics, on their own registry,
// and what /healthz answers.
type metrics struct {
	reg            *prometheus.Registry
	engine         *apply.Metrics
	renders        *prometheus.CounterVec
	templateErrors prometheus.Gauge
	consulRequests *prometheus.CounterVec
	consulErrors   *prometheus.CounterVec
	consulAnswer   prometheus.Gauge
	dependencies   prometheus.Gauge
	guards         *prometheus.CounterVec
	guarded        *prometheus.GaugeVec
	lastApply      prometheus.Gauge
	applyLatency   prometheus.Histogram
	serfUp         prometheus.Gauge

	mu           sync.Mutex
	wasApplied   bool                  // the first apply has succeeded
	templateErr  string                // why the last render failed, or ""
	waitFor      string                // what the first render still waits for, or ""
	engineHealth func() (bool, string) // the engine's health
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		renders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harender_renders_total", Help: "Renders of all templates, by result (changed, unchanged, error).",
		}, []string{"result"}),
		templateErrors: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "harender_template_error", Help: "1 while the last render failed with a template error.",
		}),
		consulRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harender_consul_requests_total", Help: "HTTP requests to Consul, by endpoint.",
		}, []string{"endpoint"}),
		consulErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harender_consul_errors_total", Help: "Failed HTTP requests to Consul, by endpoint.",
		}, []string{"endpoint"}),
		consulAnswer: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "harender_consul_last_success_timestamp_seconds",
			Help: "Unix time of the last request Consul answered without error. A blocking query answers within block_query_wait, so an age well past that means Consul is down or cut off.",
		}),
		dependencies: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "harender_dependencies", Help: "Consul queries being watched.",
		}),
		guards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harender_watch_guard_total",
			Help: "Times a guard held Consul data back from the templates, by rule (keep_last: every instance failing; mass_removal).",
		}, []string{"rule"}),
		guarded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "harender_watch_guarded", Help: "Services whose data a guard holds back now, by rule.",
		}, []string{"rule"}),
		lastApply: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "harender_last_apply_timestamp_seconds", Help: "Unix time of the last successful apply; its age is time() minus this.",
		}),
		applyLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "harender_change_to_apply_seconds",
			Help:    "Time from a Consul change reaching harender to HAProxy running it.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	m.engine = apply.NewMetrics(m.reg)
	// Known label values start at 0, so that they show before they happen.
	for _, r := range []string{"changed", "unchanged", "error"} {
		m.renders.WithLabelValues(r)
	}
	for _, r := range []string{watch.GuardKeepLast, watch.GuardMassRemoval} {
		m.guards.WithLabelValues(r)
		m.guarded.WithLabelValues(r)
	}
	m.reg.MustRegister(m.guards, m.guarded)
	m.serfUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "harender_serf_up", Help: "1 while the RPC connection to the Serf agent is up; 0 while it is down, or before serfMembers first needs it.",
	})
	m.reg.MustRegister(m.serfUp)
	m.reg.MustRegister(m.renders, m.templateErrors, m.consulRequests, m.consulErrors, m.consulAnswer, m.dependencies, m.lastApply, m.applyLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// guard counts a guard's episode; it is the watcher's Guarded.
func (m *metrics) guard(rule, _ string, active bool) {
	if active {
		m.guards.WithLabelValues(rule).Inc()
		m.guarded.WithLabelValues(rule).Inc()
		return
	}
	m.guarded.WithLabelValues(rule).Dec()
}

// observeConsul counts one Consul request; it is the watcher's Observe.
func (m *metrics) observeConsul(endpoint string, err error) {
	m.consulRequests.WithLabelValues(endpoint).Inc()
	switch {
	case err == nil:
		m.consulAnswer.SetToCurrentTime()
	case !errors.Is(err, context.Canceled):
		m.consulErrors.WithLabelValues(endpoint).Inc()
	}
}

// serfConnected records the Serf connection's state; it is the Serf's Up.
func (m *metrics) serfConnected(up bool) {
	if up {
		m.serfUp.Set(1)
	} else {
		m.serfUp.Set(0)
	}
}

// applied records an apply after which HAProxy runs what was rendered.
func (m *metrics) applied() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.wasApplied = true
	m.lastApply.SetToCurrentTime()
}

// hasApplied reports whether an apply has ever succeeded.
func (m *metrics) hasApplied() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.wasApplied
}

// renderFailed records why the last render failed, or "" once it works.
func (m *metrics) renderFailed(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.templateErr = reason
	if reason == "" {
		m.templateErrors.Set(0)
	} else {
		m.templateErrors.Set(1)
	}
}

// waiting records what the first render waits for, or "".
func (m *metrics) waiting(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.waitFor = reason
}

func (m *metrics) setHealth(f func() (bool, string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.engineHealth = f
}

// health is /healthz's verdict: a one-line reason, with no secret and no
// template output, or "" when HAProxy runs what was rendered.
func (m *metrics) health() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.templateErr != "":
		return m.templateErr
	case !m.wasApplied && m.waitFor != "":
		return m.waitFor
	}
	if m.engineHealth != nil {
		if ok, why := m.engineHealth(); !ok {
			return why
		}
	}
	if !m.wasApplied {
		return "not applied yet"
	}
	return ""
}

// healthz answers 200 "ok", or 503 with the reason.
func (m *metrics) healthz(w http.ResponseWriter, _ *http.Request) {
	if why := m.health(); why != "" {
		http.Error(w, why, http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// serve serves /metrics and /healthz on addr until ctx ends.
func (m *metrics) serve(ctx context.Context, addr string, log *slog.Logger) (func() error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", m.healthz)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("serving metrics", "address", ln.Addr().String())
	return func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}, nil
}
