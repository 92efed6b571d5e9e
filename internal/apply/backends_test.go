package apply

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/harender/harender/haproxy"
)

// backendHAProxy is mapHAProxy on a release with runtime backends (minor
// 4 of major 3 by default): a start or reload reads the backends of its
// config; add and del backend change them.
type backendHAProxy struct {
	*mapHAProxy
	minor    int
	backends []string
	busyDel  int  // del backend answers busy this many more times
	refuseD  bool // del backend is rejected
}

func (f *backendHAProxy) loadBackends() {
	b, _ := os.ReadFile(f.config)
	cfg, _ := haproxy.ParseConfig(b)
	f.backends = nil
	for _, s := range cfg.Sections {
		if s.Kind == "backend" {
			f.backends = append(f.backends, s.Name)
		}
	}
}

func (f *backendHAProxy) Reload(ctx context.Context) (haproxy.ReloadResult, error) {
	res, err := f.mapHAProxy.Reload(ctx)
	if err == nil {
		f.loadBackends()
	}
	return res, err
}

func (f *backendHAProxy) Start(ctx context.Context) (Process, error) {
	p, err := f.mapHAProxy.Start(ctx)
	if err == nil {
		f.loadBackends()
	}
	return p, err
}

func (f *backendHAProxy) Version(context.Context) (int, int, error) { return f.major, f.minor, nil }

func (f *backendHAProxy) ShowBackends(context.Context) ([]string, error) {
	return slices.Clone(f.backends), nil
}

func (f *backendHAProxy) AddBackend(_ context.Context, b haproxy.BackendAdd) error {
	f.call("add backend %s from %s", b.Name, b.From)
	f.backends = append(f.backends, b.Name)
	for _, s := range b.Servers {
		addr, port, _ := strings.Cut(s.Address, ":")
		var p int
		fmt.Sscan(port, &p)
		f.servers = append(f.servers, haproxy.ServerState{Backend: b.Name, Server: s.Server, Addr: addr, Port: p, OpState: 2, UWeight: 1, IWeight: 1})
	}
	return nil
}

func (f *backendHAProxy) DelBackend(_ context.Context, name string) error {
	f.call("del backend %s", name)
	switch {
	case f.refuseD:
		return fmt.Errorf("del backend %s: %w: Backend is referenced", name, haproxy.ErrRuntimeRejected)
	case f.busyDel > 0:
		f.busyDel--
		return fmt.Errorf("del backend %s: %w", name, haproxy.ErrBackendBusy)
	}
	f.backends = slices.DeleteFunc(f.backends, func(b string) bool { return b == name })
	f.servers = slices.DeleteFunc(f.servers, func(s haproxy.ServerState) bool { return s.Backend == name })
	return nil
}

type backendRig struct {
	*mapRig
	hb *backendHAProxy
}

func newBackendRig(t *testing.T, minor int) *backendRig {
	b := &backendRig{mapRig: &mapRig{logs: &bytes.Buffer{}}}
	r := newRig(t, func(o *Options) {
		b.hm = &mapHAProxy{fakeHAProxy: o.HAProxy.(*fakeHAProxy)}
		b.hb = &backendHAProxy{mapHAProxy: b.hm, minor: minor}
		o.HAProxy = b.hb
		o.Start = true
		o.Logger = slog.New(slog.NewTextHandler(b.logs, nil))
	})
	b.rig, b.mapPath = r, r.dir+"/routes.map"
	return b
}

// config routes through the map to backends that take everything from
// the named defaults "routed".
func (b *backendRig) config(backends ...string) string {
	var s strings.Builder
	fmt.Fprintf(&s, "global\n    stats timeout 30s\ndefaults\n    mode http\nfrontend fe\n    bind 127.0.0.1:8080\n"+
		"    use_backend %%[path,map_beg(%s,none)]\nbackend none\n    http-request return status 404\n"+
		"defaults routed\n    mode http\n    balance roundrobin\n", b.mapPath)
	for i, be := range backends {
		fmt.Fprintf(&s, "backend %s\n    server s1 127.0.0.1:%d check\n", be, 9000+i)
	}
	return s.String()
}

func (b *backendRig) routes(backends ...string) string {
	var s strings.Builder
	for _, be := range backends {
		fmt.Fprintf(&s, "/%s %s\n", be, be)
	}
	return s.String()
}

// after lists the calls made from the n-th on.
func (b *backendRig) after(n int) []string { return slices.Clone(b.hap.calls[n:]) }

// TestBackendsAtRuntime: on a release with runtime backends, a new
// service's backend is added before its map entry, a removed one deleted
// after its map entry goes, with no reload; one still in use is retried
// later; a delete HAProxy rejects is done by one reload; on 3.0 a new
// backend reloads.
func TestBackendsAtRuntime(t *testing.T) {
	b := newBackendRig(t, 4)
	apply := func(backends ...string) {
		t.Helper()
		if err := b.applyBoth(b.config(backends...), b.routes(backends...)); err != nil {
			t.Fatal(err)
		}
	}
	apply("a")
	reloads, n := b.hap.count("reload"), len(b.hap.calls)
	apply("a", "c")
	calls := b.after(n)
	addAt := slices.Index(calls, "add backend c from routed")
	mapAt := slices.Index(calls, "replace map routes.map")
	if addAt < 0 || mapAt < addAt {
		t.Fatalf("calls %q: want add backend c, then the map", calls)
	}
	if b.hap.find("c/s1") == nil {
		t.Fatalf("backend c has no server s1 in haproxy")
	}

	n = len(b.hap.calls)
	apply("a")
	calls = b.after(n)
	if mapAt, delAt := slices.Index(calls, "replace map routes.map"), slices.Index(calls, "del backend c"); mapAt < 0 || delAt < mapAt {
		t.Fatalf("calls %q: want the map, then del backend c", calls)
	}
	if slices.Contains(b.hb.backends, "c") || b.hap.count("reload") != reloads {
		t.Fatalf("backends %q, %d reloads; want c deleted with no reload", b.hb.backends, b.hap.count("reload")-reloads)
	}

	// Busy twice: it stays, and goes on the retries.
	apply("a", "d")
	b.hb.busyDel = 2
	apply("a")
	if !slices.Contains(b.hb.backends, "d") {
		t.Fatalf("a busy backend was deleted")
	}
	for i := 0; i < 4 && slices.Contains(b.hb.backends, "d"); i++ {
		b.clock.Advance(busyRetry)
		if !b.woken() {
			t.Fatal("no retry for the busy backend")
		}
		if err := b.e.Converge(t.Context(), "tick"); err != nil {
			t.Fatal(err)
		}
	}
	if slices.Contains(b.hb.backends, "d") || b.hap.count("reload") != reloads {
		t.Fatalf("backends %q, %d reloads: want d deleted by the retries", b.hb.backends, b.hap.count("reload")-reloads)
	}

	// Rejected: one reload takes it away.
	apply("a", "e")
	b.hb.refuseD = true
	b.clock.Advance(2 * b.opts.MinReloadInterval)
	apply("a")
	if b.hap.count("reload") != reloads+1 || slices.Contains(b.hb.backends, "e") {
		t.Fatalf("a rejected delete: %d reloads, backends %q; want one reload without e", b.hap.count("reload")-reloads, b.hb.backends)
	}
	if !strings.Contains(b.logs.String(), "runtime API backend delete failed") {
		t.Errorf("the rejected delete is not logged:\n%s", b.logs)
	}
}

// TestBackendsReloadBefore34: on 3.0, a new backend reloads and no
// backend is added at runtime.
func TestBackendsReloadBefore34(t *testing.T) {
	b := newBackendRig(t, 0)
	if err := b.applyBoth(b.config("a"), b.routes("a")); err != nil {
		t.Fatal(err)
	}
	reloads := b.hap.count("reload")
	b.clock.Advance(2 * b.opts.MinReloadInterval)
	if err := b.applyBoth(b.config("a", "c"), b.routes("a", "c")); err != nil {
		t.Fatal(err)
	}
	if b.hap.count("reload") != reloads+1 || b.hap.count("add backend") != 0 {
		t.Fatalf("calls %q: want one reload and no add backend", b.hap.calls)
	}
}

// TestBackendsBeforeTheCheck: a new backend and its route reach HAProxy
// before haproxy -c checks the candidate; when the check refuses it, both
// are taken back out (HAProxy runs the last committed generation again).
func TestBackendsBeforeTheCheck(t *testing.T) {
	b := newBackendRig(t, 4)
	if err := b.applyBoth(b.config("a"), b.routes("a")); err != nil {
		t.Fatal(err)
	}
	n := len(b.hap.calls)
	if err := b.applyBoth(b.config("a", "c"), b.routes("a", "c")); err != nil {
		t.Fatal(err)
	}
	calls := b.after(n)
	if addAt, checkAt := slices.Index(calls, "add backend c from routed"), slices.Index(calls, "check haproxy.cfg.candidate"); addAt < 0 || checkAt < addAt {
		t.Fatalf("calls %q: want add backend c before the check", calls)
	}

	// Refused by the check (the fake refuses "bogus"): taken back.
	bad := strings.Replace(b.config("a", "c", "d"), "9002 check", "9002 check bogus", 1)
	if err := b.applyBoth(bad, b.routes("a", "c", "d")); err == nil {
		t.Fatal("a candidate haproxy -c refuses was applied")
	}
	if slices.Contains(b.hb.backends, "d") || b.hap.find("d/s1") != nil {
		t.Fatalf("backends %q: the refused candidate's backend d is still in haproxy", b.hb.backends)
	}
	b.wantMap(b.routes("a", "c"))
	if b.hap.count("add backend d") != 1 {
		t.Fatalf("calls %q: want d added before the check, then taken back", b.after(n))
	}
}
