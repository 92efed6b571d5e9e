package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/harender/harender/haproxy"
)

// mapHAProxy is fakeHAProxy with maps: a start or reload reads the map
// files its config names, as HAProxy does; show map and replace map work
// on what it holds.
type mapHAProxy struct {
	*fakeHAProxy
	maps    map[string][]haproxy.MapEntry
	refuseM bool // replace map fails
}

var mapArg = regexp.MustCompile(`map_beg\(([^,)]+)`)

func (f *mapHAProxy) loadMaps() {
	f.maps = map[string][]haproxy.MapEntry{}
	cfg, _ := os.ReadFile(f.config)
	for _, m := range mapArg.FindAllStringSubmatch(string(cfg), -1) {
		b, _ := os.ReadFile(m[1])
		f.maps[m[1]], _ = haproxy.ParseMap(b)
	}
}

func (f *mapHAProxy) Reload(ctx context.Context) (haproxy.ReloadResult, error) {
	res, err := f.fakeHAProxy.Reload(ctx)
	if err == nil {
		f.loadMaps()
	}
	return res, err
}

func (f *mapHAProxy) Start(ctx context.Context) (Process, error) {
	p, err := f.fakeHAProxy.Start(ctx)
	if err == nil {
		f.loadMaps()
	}
	return p, err
}

func (f *mapHAProxy) ShowMap(_ context.Context, file string) ([]haproxy.MapEntry, error) {
	f.call("show map %s", filepath.Base(file))
	m, ok := f.maps[file]
	if !ok {
		return nil, haproxy.ErrUnknownMap
	}
	return m, nil
}

func (f *mapHAProxy) ReplaceMap(_ context.Context, file string, entries []haproxy.MapEntry) error {
	f.call("replace map %s", filepath.Base(file))
	if _, ok := f.maps[file]; !ok {
		return haproxy.ErrUnknownMap
	}
	if f.refuseM {
		return haproxy.ErrRuntimeRejected
	}
	f.maps[file] = entries
	return nil
}

// mapRig is a rig whose HAProxy has maps, and whose config uses
// DIR/routes.map as a map_beg map.
type mapRig struct {
	*rig
	hm      *mapHAProxy
	mapPath string
	logs    *bytes.Buffer
}

func newMapRig(t *testing.T) *mapRig {
	m := &mapRig{logs: &bytes.Buffer{}}
	r := newRig(t, func(o *Options) {
		m.hm = &mapHAProxy{fakeHAProxy: o.HAProxy.(*fakeHAProxy)}
		o.HAProxy = m.hm
		o.Start = true
		o.Logger = slog.New(slog.NewTextHandler(m.logs, nil))
	})
	m.rig, m.mapPath = r, filepath.Join(r.dir, "routes.map")
	return m
}

// routesConfig uses the map, and has a backend per name.
func (m *mapRig) routesConfig(extra string, backends ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global\n    stats timeout 30s\ndefaults\n    mode http\nfrontend fe\n    bind 127.0.0.1:8080\n"+
		"    use_backend %%[path,map_beg(%s)]\n%s", m.mapPath, extra)
	for i, be := range backends {
		fmt.Fprintf(&b, "backend %s\n    balance roundrobin\n    server s1 127.0.0.1:%d check\n", be, 9000+i)
	}
	return b.String()
}

func (m *mapRig) applyBoth(config, routes string) error {
	m.t.Helper()
	_, err := m.e.Apply(m.t.Context(), []Output{{Dest: m.cfg, Data: []byte(config)}, {Dest: m.mapPath, Data: []byte(routes)}}, "test")
	return err
}

func (m *mapRig) wantMap(routes string) {
	m.t.Helper()
	want, _ := haproxy.ParseMap([]byte(routes))
	if got := m.hm.maps[m.mapPath]; fmt.Sprint(got) != fmt.Sprint(want) {
		m.t.Fatalf("haproxy's map = %q, want %q", got, want)
	}
}

func gauge(g prometheus.Gauge) float64 {
	var d dto.Metric
	if err := g.Write(&d); err != nil {
		panic(err)
	}
	return d.GetGauge().GetValue()
}

// TestMapChangesWithoutReload: routes added, removed and reordered reach
// HAProxy through the runtime API; only a new backend reloads, once; a
// restart of harender keeps it so; a map changed by hand is set back.
func TestMapChangesWithoutReload(t *testing.T) {
	m := newMapRig(t)
	cfg := m.routesConfig("", "a", "b")
	if err := m.applyBoth(cfg, "/a a\n"); err != nil {
		t.Fatal(err)
	}
	m.wantMap("/a a\n")
	starts, reloads := m.hap.count("start"), m.hap.count("reload")

	for _, routes := range []string{"/a/x b\n/a a\n", "/a/x b\n/b b\n/a a\n", "/b b\n"} {
		if err := m.applyBoth(cfg, routes); err != nil {
			t.Fatal(err)
		}
		m.wantMap(routes)
	}
	if got := m.hap.count("reload"); got != reloads || m.hap.count("start") != starts {
		t.Fatalf("map changes reloaded: %d reloads, %v", got-reloads, m.hap.calls)
	}
	if got := m.hap.count("replace map"); got != 3 {
		t.Fatalf("%d replace map calls, want 3", got)
	}

	// harender restarts; a route changed meanwhile still needs no reload.
	m.restart()
	if err := m.applyBoth(cfg, "/c b\n"); err != nil {
		t.Fatal(err)
	}
	m.wantMap("/c b\n")
	if m.hap.count("reload") != reloads {
		t.Fatalf("after a restart a map change reloaded: %v", m.hap.calls)
	}

	// Someone edits the map at runtime: the reconcile sets it back.
	m.hm.maps[m.mapPath] = []haproxy.MapEntry{{Key: "/evil", Value: "a"}}
	if err := m.e.Converge(t.Context(), "reconcile"); err != nil {
		t.Fatal(err)
	}
	m.wantMap("/c b\n")
	if m.drift(driftMaps) != 1 || m.hap.count("reload") != reloads {
		t.Fatalf("drift maps = %v, reloads %d", m.drift(driftMaps), m.hap.count("reload")-reloads)
	}

	// A new service: a new backend, one reload, the map with it.
	m.clock.Advance(2 * m.opts.MinReloadInterval)
	cfg = m.routesConfig("", "a", "b", "c")
	if err := m.applyBoth(cfg, "/c c\n/b b\n"); err != nil {
		t.Fatal(err)
	}
	m.wantMap("/c c\n/b b\n")
	if got := m.hap.count("reload") - reloads; got != 1 {
		t.Fatalf("a new backend took %d reloads, want 1", got)
	}
}

// TestMapReloadsWhenRuntimeCannot: a map HAProxy also reads as an ACL
// file, a map with an entry the CLI cannot carry, and a refused replace
// all take the reload path.
func TestMapReloadsWhenRuntimeCannot(t *testing.T) {
	cases := []struct {
		name, extra, routes string
		refuse              bool
	}{
		{name: "also an acl file", extra: "    acl known path -f %s\n", routes: "/b b\n"},
		{name: "entry with a blank", routes: "/b b c\n"},
		{name: "entry with a semicolon", routes: "/b b;show\n"},
		{name: "replace refused", routes: "/b b\n", refuse: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMapRig(t)
			extra := c.extra
			if extra != "" {
				extra = fmt.Sprintf(extra, m.mapPath)
			}
			cfg := m.routesConfig(extra, "a", "b")
			if err := m.applyBoth(cfg, "/a a\n"); err != nil {
				t.Fatal(err)
			}
			m.hm.refuseM = c.refuse
			reloads := m.hap.count("reload")
			m.clock.Advance(2 * m.opts.MinReloadInterval)
			if err := m.applyBoth(cfg, c.routes); err != nil {
				t.Fatal(err)
			}
			m.wantMap(c.routes)
			if got := m.hap.count("reload") - reloads; got != 1 {
				t.Fatalf("%d reloads, want 1: %v", got, m.hap.calls)
			}
		})
	}
}

// TestMapNotes: the conflicts a map's comments name are counted and
// logged when the map changes, not at every reconcile.
func TestMapNotes(t *testing.T) {
	m := newMapRig(t)
	cfg := m.routesConfig("", "a", "b")
	routes := "# conflict: route \"/a\" is claimed by services \"a\", \"b\"; \"a\" wins\n# ignored: service \"b\", tag \"x\": no\n/a a\n"
	if err := m.applyBoth(cfg, routes); err != nil {
		t.Fatal(err)
	}
	if got := gauge(m.e.m.RouteConflicts); got != 1 {
		t.Fatalf("harender_route_conflicts = %v, want 1", got)
	}
	if n := strings.Count(m.logs.String(), "route conflict"); n != 1 || !strings.Contains(m.logs.String(), "route tag ignored") {
		t.Fatalf("log:\n%s", m.logs)
	}
	if err := m.e.Converge(t.Context(), "reconcile"); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(m.logs.String(), "route conflict"); n != 1 {
		t.Fatalf("a reconcile logged the conflict again:\n%s", m.logs)
	}
	if err := m.applyBoth(cfg, "/a a\n"); err != nil {
		t.Fatal(err)
	}
	if got := gauge(m.e.m.RouteConflicts); got != 0 {
		t.Fatalf("harender_route_conflicts = %v after the conflict went", got)
	}
}

func TestMapUnknownToHAProxyReloads(t *testing.T) {
	m := newMapRig(t)
	cfg := m.routesConfig("", "a")
	if err := m.applyBoth(cfg, "/a a\n"); err != nil {
		t.Fatal(err)
	}
	delete(m.hm.maps, m.mapPath) // as if HAProxy never loaded it
	m.clock.Advance(2 * m.opts.MinReloadInterval)
	reloads := m.hap.count("reload")
	if err := m.e.Converge(t.Context(), "reconcile"); err != nil && !errors.Is(err, haproxy.ErrUnknownMap) {
		t.Fatal(err)
	}
	if m.hap.count("reload") != reloads+1 {
		t.Fatalf("want one reload: %v", m.hap.calls)
	}
	m.wantMap("/a a\n")
}
