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
)

// metrics are the sidecar's Prometheus metrics, on their own registry.
type metrics struct {
	reg            *prometheus.Registry
	renders        *prometheus.CounterVec
	templateErrors prometheus.Gauge
	reloads        *prometheus.CounterVec
	runtimeUpdates *prometheus.CounterVec
	checkFailures  prometheus.Counter
	commands       *prometheus.CounterVec
	consulRequests *prometheus.CounterVec
	consulErrors   *prometheus.CounterVec
	dependencies   prometheus.Gauge
	lastApply      prometheus.Gauge
	applyLatency   prometheus.Histogram

	mu        sync.Mutex
	applied   bool // the first apply has succeeded
	lastError error
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
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harender_haproxy_reloads_total", Help: "HAProxy reloads through the master socket, by result (ok, failed).",
		}, []string{"result"}),
		runtimeUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harender_haproxy_runtime_updates_total", Help: "Changes applied through the runtime API with no reload, by result.",
		}, []string{"result"}),
		checkFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "harender_haproxy_check_failures_total", Help: "Candidates that haproxy -c rejected.",
		}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harender_commands_total", Help: "Template commands run, by result (ok, failed).",
		}, []string{"result"}),
		consulRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harender_consul_requests_total", Help: "HTTP requests to Consul, by endpoint.",
		}, []string{"endpoint"}),
		consulErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harender_consul_errors_total", Help: "Failed HTTP requests to Consul, by endpoint.",
		}, []string{"endpoint"}),
		dependencies: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "harender_dependencies", Help: "Consul queries being watched.",
		}),
		lastApply: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "harender_last_apply_timestamp_seconds", Help: "Unix time of the last successful apply; its age is time() minus this.",
		}),
		applyLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "harender_change_to_apply_seconds",
			Help:    "Time from a Consul change reaching harender to HAProxy running it.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	// Known label values start at 0, so that they show before they happen.
	for _, r := range []string{"changed", "unchanged", "error"} {
		m.renders.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "failed"} {
		m.reloads.WithLabelValues(r)
		m.runtimeUpdates.WithLabelValues(r)
		m.commands.WithLabelValues(r)
	}
	m.reg.MustRegister(m.renders, m.templateErrors, m.reloads, m.runtimeUpdates, m.checkFailures,
		m.commands, m.consulRequests, m.consulErrors, m.dependencies, m.lastApply, m.applyLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeConsul counts one Consul request; it is the watcher's Observe.
func (m *metrics) observeConsul(endpoint string, err error) {
	m.consulRequests.WithLabelValues(endpoint).Inc()
	if err != nil && !errors.Is(err, context.Canceled) {
		m.consulErrors.WithLabelValues(endpoint).Inc()
	}
}

// applyResult records the outcome of an apply for /healthz.
func (m *metrics) applyResult(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastError = err
	if err == nil {
		m.applied = true
		m.lastApply.SetToCurrentTime()
	}
}

// healthz answers 200 once the first apply has succeeded and the last one
// did not fail, 503 otherwise.
func (m *metrics) healthz(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	applied, err := m.applied, m.lastError
	m.mu.Unlock()
	switch {
	case !applied:
		http.Error(w, "not applied yet", http.StatusServiceUnavailable)
	case err != nil:
		http.Error(w, "last apply failed: "+err.Error(), http.StatusServiceUnavailable)
	default:
		fmt.Fprintln(w, "ok")
	}
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
