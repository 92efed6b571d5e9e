package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/harender/harender/haproxy"
)

// Maps set through the runtime API.
//
// A companion file that HAProxy's config uses only as the file of map
// converters (haproxy.RuntimeMaps), and whose entries the CLI can carry
// (haproxy.ParseMap), is a runtime map: a change to it is made with
// prepare map, add map and commit map, atomically, with no reload, and
// checked with show map. HAProxy's answer is the truth: every converge
// compares show map with the file and sets the map again on a mismatch
// (a map changed by hand, or a harender that died between writing the
// file and setting the map).
//
// The record of what HAProxy loaded (.loaded) hashes a runtime map as if
// it were empty, as it leaves out servers: show map says what it holds.
// So the rule for a reload is: a companion file changed, unless the
// config HAProxy loaded and the desired companion files, runtime maps
// emptied, hash to the record's generation (onlyMapsDiffer). The record is
// written in that form after every converge that finds HAProxy running
// its files (recordMaps), so the rule holds across restarts of harender.

// mapRuntime is what the engine needs of HAProxy to set maps at runtime.
type mapRuntime interface {
	ShowMap(ctx context.Context, file string) ([]haproxy.MapEntry, error)
	ReplaceMap(ctx context.Context, file string, entries []haproxy.MapEntry) error
}

func (h *realHAProxy) ShowMap(ctx context.Context, file string) ([]haproxy.MapEntry, error) {
	return h.rt.ShowMap(ctx, file)
}

func (h *realHAProxy) ReplaceMap(ctx context.Context, file string, entries []haproxy.MapEntry) error {
	return h.rt.ReplaceMap(ctx, file, entries)
}

// driftMaps is a runtime map found to differ from its file, and set again.
const driftMaps = "maps"

// runtimeMaps are the files of files that config uses as runtime maps,
// sorted; none when the engine cannot or may not set maps at runtime.
func (e *Engine) runtimeMaps(config []byte, files map[string][]byte) []string {
	if _, ok := e.hap.(mapRuntime); !ok || e.o.Reload != "auto" || !e.hasRuntime() || len(files) == 0 {
		return nil
	}
	var out []string
	for _, p := range haproxy.RuntimeMaps(config, slices.Sorted(maps.Keys(files))) {
		if _, ok := haproxy.ParseMap(files[p]); ok {
			out = append(out, p)
		}
	}
	return out
}

// withoutMaps is files with the runtime maps emptied.
func withoutMaps(files map[string][]byte, runtime []string) map[string][]byte {
	out := maps.Clone(files)
	for _, p := range runtime {
		out[p] = nil
	}
	return out
}

// onlyMapsDiffer reports whether the companion files of d differ from
// those HAProxy loaded in runtime maps only.
func (e *Engine) onlyMapsDiffer(d *generation) bool {
	rt := e.runtimeMaps(e.loaded.config, d.files)
	return len(rt) > 0 && hashOf(e.loaded.config, withoutMaps(d.files, rt)) == e.loaded.generation
}

// convergeMaps makes the runtime maps HAProxy matches what g's files say:
// each is read back with show map, and replaced where it differs, then
// read back again. A map HAProxy has not loaded, or a change it refused,
// is a needsReload: a reload reads the files themselves.
func (e *Engine) convergeMaps(ctx context.Context, g *generation, drift bool) error {
	e.reportMapNotes(g)
	if e.loaded == nil {
		return nil
	}
	rt := e.runtimeMaps(e.loaded.config, g.files)
	if len(rt) == 0 {
		return nil
	}
	mr := e.hap.(mapRuntime)
	var set []string
	entries := 0
	for _, path := range rt {
		want, _ := haproxy.ParseMap(g.files[path])
		got, err := mr.ShowMap(ctx, path)
		switch {
		case errors.Is(err, haproxy.ErrUnknownMap):
			return needsReload("map " + path + " is not loaded by haproxy")
		case err != nil:
			e.setHealth("haproxy runtime API is not answering on " + e.runtimePath())
			e.retry()
			return fmt.Errorf("ask haproxy for map %s: %w", path, err)
		case slices.Equal(got, want):
			continue
		}
		if err = mr.ReplaceMap(ctx, path, want); err == nil {
			got, err = mr.ShowMap(ctx, path)
			if err == nil && !slices.Equal(got, want) {
				err = fmt.Errorf("show map %s reads back %d entries, not the %d set", path, len(got), len(want))
			}
		}
		if err != nil {
			e.m.RuntimeUpdates.WithLabelValues("failed").Inc()
			e.log.Warn("runtime API map change failed; reloading instead", "map", path, "error", err)
			return needsReload("runtime API map change failed")
		}
		set = append(set, path)
		entries += len(want)
	}
	if len(set) > 0 {
		e.m.RuntimeUpdates.WithLabelValues("ok").Inc()
		if drift {
			e.m.Drift.WithLabelValues(driftMaps).Inc()
			e.log.Warn("drift repaired: haproxy's maps differed from their files; set through the runtime API", "maps", strings.Join(set, ", "))
		} else {
			e.log.Info("applied through the runtime API", "maps", strings.Join(set, ", "), "entries", entries, "hash", g.short())
		}
	}
	e.recordMaps(g, rt)
	return nil
}

// recordMaps puts the record of what HAProxy loaded in the form
// onlyMapsDiffer reads, once HAProxy is seen to run g: runtime maps
// hashed as empty. It is written again only after a reload.
func (e *Engine) recordMaps(g *generation, rt []string) {
	l := e.loaded
	blind := hashOf(l.config, withoutMaps(g.files, rt))
	if l.generation == blind || l.generation != hashOf(l.config, g.files) {
		return
	}
	if e.o.MasterSocket == "" {
		l.generation = blind // a record in memory only (see observe)
		return
	}
	p := haproxy.Procs{Master: haproxy.MasterProc{Proc: haproxy.Proc{PID: l.masterPID, Reloads: l.reloads}}}
	rec, err := writeLoaded(e.o.Config, p, &generation{config: l.config, parsed: l.parsed, hash: blind})
	if err != nil {
		e.log.Warn("could not record the maps haproxy runs; a map change after a restart of harender reloads once", "error", err)
		return
	}
	e.loaded = rec
}

// Notes a template leaves in a map file's comments, for the log: the
// routes template writes one line per route two services claim, and one
// per route tag it does not serve.
const (
	noteConflict = "# conflict: "
	noteIgnored  = "# ignored: "
)

// reportMapNotes logs the notes of g's companion files that changed since
// HAProxy last ran them in full, and counts the conflicts.
func (e *Engine) reportMapNotes(g *generation) {
	conflicts := 0
	for _, path := range slices.Sorted(maps.Keys(g.files)) {
		data := g.files[path]
		if !strings.Contains(string(data), noteConflict) && !strings.Contains(string(data), noteIgnored) {
			continue
		}
		changed := e.applied == nil || string(e.applied.files[path]) != string(data)
		for line := range strings.SplitSeq(string(data), "\n") {
			if c, ok := strings.CutPrefix(line, noteConflict); ok {
				conflicts++
				if changed {
					e.log.Warn("route conflict", "map", path, "conflict", c)
				}
			} else if i, ok := strings.CutPrefix(line, noteIgnored); ok && changed {
				e.log.Warn("route tag ignored", "map", path, "ignored", i)
			}
		}
	}
	e.m.RouteConflicts.Set(float64(conflicts))
}
