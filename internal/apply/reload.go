package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/renderer"
)

// reloadIfDue reloads now, unless min_reload_interval or a backoff says
// later (then a wake-up is scheduled, and changes until then merge into
// that one reload). done reports whether HAProxy reloaded.
func (e *Engine) reloadIfDue(ctx context.Context, reason string, drift bool) (done bool, err error) {
	if e.o.MasterSocket == "" {
		if e.noMaster != reason {
			e.noMaster = reason
			e.log.Error("haproxy needs a reload, which harender cannot send; servers still follow through the runtime API",
				"why", reason, "error", errNoMaster)
		}
		e.setHealth("reload needed but no master_socket is set")
		return false, nil
	}
	now := e.clock.Now()
	due := e.lastReload.Add(e.o.MinReloadInterval)
	if e.notBefore.After(due) {
		due = e.notBefore
	}
	if now.Before(due) {
		e.after(due.Sub(now))
		e.log.Debug("reload deferred", "why", reason, "in", due.Sub(now).Round(1e6))
		return false, nil
	}
	return true, e.reload(ctx, reason, drift)
}

// reload writes the desired files and the server state, reloads through
// the master socket and confirms it. A reload HAProxy refuses puts back
// the files HAProxy still runs.
func (e *Engine) reload(ctx context.Context, reason string, drift bool) error {
	d := e.desired
	if _, err := writeGeneration(e.o.Config, d); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if err := e.saveServerState(ctx); err != nil {
		e.log.Warn("could not save server state; servers start with their configured state", "error", err)
	}
	var tail string
	if e.proc != nil {
		tail = e.proc.Tail()
	}
	res, err := e.hap.Reload(ctx)
	e.lastReload = e.clock.Now()
	after := res.After
	if after.Master.PID == 0 {
		after, _ = e.hap.ShowProc(ctx)
	}
	if err == nil {
		rec, werr := writeLoaded(e.o.Config, after, d)
		if werr != nil {
			e.log.Warn("reloaded, but could not record it; the next start of harender reloads once more", "error", werr)
		}
		e.loaded, e.failures, e.force, e.refused = rec, 0, "", ""
		e.notBefore = e.lastReload
		e.m.Reloads.WithLabelValues("ok").Inc()
		if drift {
			e.m.Drift.WithLabelValues(driftConfig).Inc()
			e.log.Warn("drift repaired: haproxy did not run the rendered config; reloaded", "why", reason, "hash", d.short())
		} else {
			e.log.Info("reloaded", "why", reason, "hash", d.short(), "master_pid", after.Master.PID)
		}
		return nil
	}
	e.m.Reloads.WithLabelValues("failed").Inc()
	if errors.Is(err, haproxy.ErrReloadFailed) {
		// The old workers still run what they ran.
		if e.loaded != nil && after.Master.PID != 0 {
			prev := &generation{config: e.loaded.config, parsed: e.loaded.parsed, hash: e.loaded.generation}
			if rec, werr := writeLoaded(e.o.Config, after, prev); werr == nil {
				e.loaded = rec
			}
		}
		e.refused = d.hash
		back := e.putBackRunning()
		b := e.retry()
		e.setHealth("haproxy refused to load the new config")
		return fmt.Errorf("haproxy refused the reload (%s); %s; next try in %s: %w%s", reason, back, b, err, e.haproxySaid(res, tail))
	}
	b := e.retry()
	e.setHealth("reload not confirmed")
	return fmt.Errorf("reload (%s), next try in %s: %w", reason, b, err)
}

// putBackRunning writes back the files of the generation HAProxy runs.
func (e *Engine) putBackRunning() string {
	prev := e.applied
	if prev == nil && e.loaded != nil {
		prev = &generation{config: e.loaded.config, files: e.desired.files}
	}
	if prev == nil {
		return "no earlier config to put back"
	}
	if _, err := writeGeneration(e.o.Config, prev); err != nil {
		return "could not put back the config haproxy runs: " + err.Error()
	}
	return e.o.Config + " is back to the config haproxy runs"
}

// haproxySaid quotes what HAProxy printed about a failed reload, when its
// reply did not carry it (2.6 answers nothing): the lines of the process
// harender started that came after before.
func (e *Engine) haproxySaid(res haproxy.ReloadResult, before string) string {
	if res.Sync || e.proc == nil {
		return ""
	}
	lines := newLines(before, e.proc.Tail())
	if lines == "" {
		return ""
	}
	return "\nhaproxy said:\n" + lines
}

// newLines is what after, a later tail of the same output, adds to before.
func newLines(before, after string) string {
	if before == "" {
		return after
	}
	last := before[strings.LastIndexByte(before, '\n')+1:]
	if i := strings.LastIndex(after, last); i >= 0 {
		return strings.TrimPrefix(after[i+len(last):], "\n")
	}
	return after
}

// saveServerState writes the server state HAProxy starts the reloaded
// config from: the desired servers, with the health HAProxy observed.
func (e *Engine) saveServerState(ctx context.Context) error {
	if e.o.ServerStateFile == "" || !e.hasRuntime() || e.desired.parsed == nil {
		return nil
	}
	obs, err := e.hap.ServersState(ctx)
	if err != nil {
		return err
	}
	data := haproxy.StateFileFor(obs, e.desired.parsed)
	_, err = renderer.WriteFile(e.o.ServerStateFile, data, renderer.WriteOptions{Perms: 0o644, CreateDestDirs: true})
	return err
}

// writeGeneration makes the files on disk hold g, and returns how many it
// had to write.
func writeGeneration(config string, g *generation) (int, error) {
	n := 0
	write := func(dest string, data []byte) error {
		wrote, err := renderer.WriteFile(dest, data, renderer.WriteOptions{})
		if wrote {
			n++
		}
		return err
	}
	for dest, data := range g.files {
		if err := write(dest, data); err != nil {
			return n, err
		}
	}
	return n, write(config, g.config)
}
