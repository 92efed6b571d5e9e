package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/harender/harender/haproxy"
)

// fakeClock is a Clock that moves only when told.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool { t.stopped = true; return true }

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock and runs the timers that came due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	rest := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			due = append(due, t)
		default:
			rest = append(rest, t)
		}
	}
	c.timers = rest
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// fakeHAProxy is an HAProxy in memory: a master with reload counters, the
// config it loaded from disk, and its servers as the runtime API reports
// them.
type fakeHAProxy struct {
	config  string // the file a reload or start reads
	running bool
	pid     int
	reloads int
	failed  int
	major   int
	refuse  bool            // reloads fail, as a bind error would
	busy    map[string]bool // backend/server that del server refuses
	servers []haproxy.ServerState
	conns   map[string]haproxy.ServerConns // backend/server: what show servers conn reports
	calls   []string
	callsMu sync.Mutex // Check runs on the background check's goroutine
	proc    *fakeProcess
	// slowExit, when set, makes Check run until it is cancelled, then
	// wait for slowExit to close before it returns: a haproxy -c killed
	// mid-run that takes its time to exit.
	slowExit chan struct{}
}

func newFakeHAProxy(config string) *fakeHAProxy {
	return &fakeHAProxy{config: config, pid: 100, major: 3, busy: map[string]bool{}}
}

func (f *fakeHAProxy) call(format string, a ...any) {
	f.callsMu.Lock()
	defer f.callsMu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

// count is how many calls start with prefix.
func (f *fakeHAProxy) count(prefix string) int {
	f.callsMu.Lock()
	defer f.callsMu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

var errDown = fmt.Errorf("dial: %w", haproxy.ErrSocket)

func (f *fakeHAProxy) Check(ctx context.Context, path string) error {
	f.call("check %s", filepath.Base(path))
	if f.slowExit != nil {
		<-ctx.Done()
		<-f.slowExit
		f.call("check exited")
		return ctx.Err()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if strings.Contains(string(b), "bogus") {
		return &haproxy.CheckError{Path: path, Output: "[ALERT] unknown keyword 'bogus'"}
	}
	// A map named in the config must exist, as HAProxy would check.
	for _, w := range strings.Fields(string(b)) {
		if strings.HasSuffix(w, ".map") {
			if _, err := os.Stat(w); err != nil {
				return &haproxy.CheckError{Path: path, Output: "failed to open pattern file " + w}
			}
		}
	}
	return nil
}

func (f *fakeHAProxy) ShowProc(context.Context) (haproxy.Procs, error) {
	if !f.running {
		return haproxy.Procs{}, errDown
	}
	var p haproxy.Procs
	p.Master.PID, p.Master.Reloads, p.Master.Failed, p.Master.HasFailed = f.pid, f.reloads, f.failed, true
	p.Workers = []haproxy.Proc{{PID: f.pid + 1 + f.reloads, Type: "worker"}}
	return p, nil
}

// load reads the config as a reload or start does.
func (f *fakeHAProxy) load() error {
	b, err := os.ReadFile(f.config)
	if err != nil {
		return err
	}
	cfg, err := haproxy.ParseConfig(b)
	if err != nil {
		return err
	}
	f.servers = nil
	for _, s := range cfg.Sections {
		for _, srv := range s.Servers {
			w := max(srv.Weight, 1)
			st := haproxy.ServerState{Backend: s.Name, Server: srv.Name, Addr: srv.Addr, Port: srv.Port, OpState: 2, UWeight: w, IWeight: w}
			if srv.Disabled {
				st.AdminState = haproxy.AdminConfigMaint | haproxy.AdminForcedMaint
			}
			f.servers = append(f.servers, st)
		}
	}
	return nil
}

func (f *fakeHAProxy) Reload(context.Context) (haproxy.ReloadResult, error) {
	f.call("reload")
	if !f.running {
		return haproxy.ReloadResult{}, errDown
	}
	before, _ := f.ShowProc(context.Background())
	f.reloads++
	if f.refuse {
		f.failed++
		after, _ := f.ShowProc(context.Background())
		msgs := "[ALERT] cannot bind socket"
		return haproxy.ReloadResult{Before: before, After: after, Messages: msgs, Sync: true},
			fmt.Errorf("%w on master.sock (Success=0):\n%s", haproxy.ErrReloadFailed, msgs)
	}
	if err := f.load(); err != nil {
		return haproxy.ReloadResult{}, err
	}
	after, _ := f.ShowProc(context.Background())
	return haproxy.ReloadResult{Before: before, After: after}, nil
}

func (f *fakeHAProxy) ServersState(context.Context) (*haproxy.ServersState, error) {
	if !f.running {
		return nil, errDown
	}
	return &haproxy.ServersState{Version: "1", Servers: append([]haproxy.ServerState(nil), f.servers...)}, nil
}

func (f *fakeHAProxy) Version(context.Context) (int, int, error) { return f.major, 0, nil }

func (f *fakeHAProxy) find(name string) *haproxy.ServerState {
	for i := range f.servers {
		if f.servers[i].Backend+"/"+f.servers[i].Server == name {
			return &f.servers[i]
		}
	}
	return nil
}

func (f *fakeHAProxy) ServerConns(_ context.Context, backend string) (map[string]haproxy.ServerConns, error) {
	f.call("conns %s", backend)
	out := map[string]haproxy.ServerConns{}
	for _, s := range f.servers {
		if s.Backend == backend {
			out[s.Server] = f.conns[s.Backend+"/"+s.Server]
		}
	}
	return out, nil
}

func (f *fakeHAProxy) Do(_ context.Context, s haproxy.Step) error {
	f.call("%s", s)
	srv := f.find(s.Name())
	switch s.Kind {
	case haproxy.StepAdd:
		if srv != nil {
			return fmt.Errorf("add: %w: Already exists", haproxy.ErrRuntimeRejected)
		}
		st := haproxy.ServerState{Backend: s.Backend, Server: s.Server, OpState: 2, UWeight: 1, IWeight: 1}
		st.Addr, _, _ = strings.Cut(s.Add.Address, ":")
		fmt.Sscan(s.Add.Address[len(st.Addr)+1:], &st.Port)
		if s.Add.Disabled {
			st.AdminState = haproxy.AdminForcedMaint
		}
		f.servers = append(f.servers, st)
		return nil
	case haproxy.StepDelete:
		if srv == nil {
			return fmt.Errorf("%w: No such server", haproxy.ErrRuntimeRejected)
		}
		srv.AdminState |= haproxy.AdminForcedMaint
		if f.busy[s.Name()] {
			return haproxy.ErrServerBusy
		}
		f.servers = slices.DeleteFunc(f.servers, func(x haproxy.ServerState) bool { return x.Backend+"/"+x.Server == s.Name() })
		return nil
	}
	if srv == nil {
		return fmt.Errorf("%w: No such server", haproxy.ErrRuntimeRejected)
	}
	switch s.Kind {
	case haproxy.StepSetState:
		if s.State == "maint" {
			srv.AdminState |= haproxy.AdminForcedMaint
		} else {
			srv.AdminState &^= haproxy.AdminForcedMaint | haproxy.AdminForcedDrain
		}
	case haproxy.StepSetAddr:
		srv.Addr, srv.Port = s.Addr, s.Port
	case haproxy.StepSetWeight:
		srv.UWeight = s.Weight
	}
	return nil
}

func (f *fakeHAProxy) Start(context.Context) (Process, error) {
	f.call("start")
	if f.refuse {
		return nil, errors.New("haproxy exited before it was ready: [ALERT] cannot bind socket")
	}
	if err := f.load(); err != nil {
		return nil, err
	}
	f.running, f.pid, f.reloads, f.failed = true, f.pid+10, 0, 0
	f.proc = &fakeProcess{pid: f.pid, done: make(chan struct{})}
	return f.proc, nil
}

// die is HAProxy's master dying.
func (f *fakeHAProxy) die() {
	f.running = false
	if f.proc != nil {
		f.proc.exit()
	}
}

type fakeProcess struct {
	pid  int
	done chan struct{}
	once sync.Once
}

func (p *fakeProcess) PID() int                 { return p.pid }
func (p *fakeProcess) Done() <-chan struct{}    { return p.done }
func (p *fakeProcess) ExitErr() error           { return errors.New("signal: killed") }
func (p *fakeProcess) Tail() string             { return "[ALERT] last words" }
func (p *fakeProcess) exit()                    { p.once.Do(func() { close(p.done) }) }
func (p *fakeProcess) Stop(time.Duration) error { p.exit(); return nil }

// rig is an engine on a fake HAProxy and a fake clock, in a temp dir.
type rig struct {
	t     *testing.T
	dir   string
	cfg   string
	hap   *fakeHAProxy
	clock *fakeClock
	opts  Options
	e     *Engine
}

func newRig(t *testing.T, mod func(*Options)) *rig {
	dir := t.TempDir()
	r := &rig{t: t, dir: dir, cfg: filepath.Join(dir, "haproxy.cfg"), clock: newFakeClock()}
	r.hap = newFakeHAProxy(r.cfg)
	r.opts = Options{
		Config: r.cfg, MasterSocket: filepath.Join(dir, "master.sock"), RuntimeSocket: filepath.Join(dir, "admin.sock"),
		Reload: "auto", MinReloadInterval: time.Second, ReconcileInterval: 10 * time.Second,
		HAProxy: r.hap, Clock: r.clock,
	}
	if mod != nil {
		mod(&r.opts)
	}
	r.e = New(r.opts)
	t.Cleanup(func() { r.e.Close(context.Background()) })
	return r
}

// restart is a new harender on the same files and HAProxy.
func (r *rig) restart() {
	r.e.cmds.close(context.Background())
	r.e = New(r.opts)
}

// apply renders config text and applies it.
func (r *rig) apply(text string) error {
	r.t.Helper()
	_, err := r.e.Apply(r.t.Context(), []Output{{Dest: r.cfg, Data: []byte(text)}}, "test")
	return err
}

// startRunning has HAProxy already run text, as harender left it.
func (r *rig) startRunning(text string) {
	r.t.Helper()
	if err := os.WriteFile(r.cfg, []byte(text), 0o644); err != nil {
		r.t.Fatal(err)
	}
	if err := r.hap.load(); err != nil {
		r.t.Fatal(err)
	}
	r.hap.running = true
}

// woken reports whether the engine asked to be woken.
func (r *rig) woken() bool {
	select {
	case <-r.e.Wake():
		return true
	default:
		return false
	}
}

func (r *rig) drift(kind string) float64 { return counter(r.e.m.Drift.WithLabelValues(kind)) }

// gatewayConfig is a config with servers "name:port[:disabled]".
func gatewayConfig(extra string, servers ...string) string {
	var b strings.Builder
	b.WriteString("global\n    stats timeout 30s\ndefaults\n    mode http\nfrontend fe\n    bind 127.0.0.1:8080\n    default_backend be\n" + extra)
	b.WriteString("backend be\n    balance roundrobin\n")
	for _, s := range servers {
		name, port, _ := strings.Cut(s, ":")
		port, dis, _ := strings.Cut(port, ":")
		fmt.Fprintf(&b, "    server %s 127.0.0.1:%s check", name, port)
		if dis != "" {
			b.WriteString(" disabled")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// counter reads a counter's value.
func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
