package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/harender/harender/internal/apply"
	"github.com/harender/harender/renderer"
)

// newEngine wires the apply engine from the config.
func newEngine(cfg Config, m *apply.Metrics, log *slog.Logger) *apply.Engine {
	return apply.New(engineOptions(cfg, m, log))
}

// newSidecarEngine is the engine of harender run, the one process that
// keeps the VRRP weight file: a one-shot render must not touch it.
func newSidecarEngine(cfg Config, m *apply.Metrics, log *slog.Logger) *apply.Engine {
	o := engineOptions(cfg, m, log)
	o.VRRPWeightFile, o.VRRPHandoverDelay = cfg.HAProxy.VRRPWeightFile, cfg.HAProxy.VRRPHandoverDelay
	o.CheckAsync = true // the loop goes on to the next change while haproxy -c runs
	// Under churn, one haproxy -c per burst: each change reaches HAProxy's
	// runtime at once, and the file when the changes pause (300ms), or
	// every 2s at most.
	o.CheckDelay, o.CheckDelayMax = checkDelay, checkDelayMax
	return apply.New(o)
}

// The background check's quiet period and its bound (apply.Options).
const (
	checkDelay    = 300 * time.Millisecond
	checkDelayMax = 2 * time.Second
)

func engineOptions(cfg Config, m *apply.Metrics, log *slog.Logger) apply.Options {
	h := cfg.HAProxy
	return apply.Options{
		Config: h.Config, MasterSocket: h.MasterSocket, RuntimeSocket: h.RuntimeSocket,
		ServerStateFile: h.ServerStateFile, Reload: h.Reload,
		MinReloadInterval: h.MinReloadInterval, ReconcileInterval: h.ReconcileInterval,
		Start: h.Start,
		HAProxy: apply.NewHAProxy(apply.HAProxySettings{
			Binary: h.Binary, Config: h.Config, MasterSocket: h.MasterSocket,
			RuntimeSocket: h.RuntimeSocket, PIDFile: h.PIDFile,
			OnLine: func(line string) { log.Debug("haproxy says", "source", "haproxy", "line", line) },
		}),
		Logger: log, Metrics: m,
	}
}

// outputs pairs each job's rendered bytes with its write settings.
func outputs(jobs []*job, data [][]byte) []apply.Output {
	outs := make([]apply.Output, len(jobs))
	for i, j := range jobs {
		outs[i] = apply.Output{
			Dest: j.cfg.Destination, Data: data[i], Write: writeOptions(j.cfg),
			Command: j.cfg.Command, CommandTimeout: j.cfg.CommandTimeout,
		}
	}
	return outs
}

// writeOptions are a template's write settings.
func writeOptions(tc TemplateConfig) renderer.WriteOptions {
	return renderer.WriteOptions{Perms: os.FileMode(tc.Perms), Backup: tc.Backup, CreateDestDirs: tc.CreateDestDirs}
}
