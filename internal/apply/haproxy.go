package apply

import (
	"context"
	"errors"
	"time"

	"github.com/harender/harender/haproxy"
)

// HAProxy is what the engine needs of HAProxy. NewHAProxy gives the real
// one; tests use a fake.
type HAProxy interface {
	// Check runs haproxy -c on the config at path.
	Check(ctx context.Context, path string) error
	ShowProc(ctx context.Context) (haproxy.Procs, error)
	Reload(ctx context.Context) (haproxy.ReloadResult, error)
	ServersState(ctx context.Context) (*haproxy.ServersState, error)
	Version(ctx context.Context) (major, minor int, err error)
	Do(ctx context.Context, s haproxy.Step) error
	// ServerConns reports backend's servers' connections in use and idle.
	ServerConns(ctx context.Context, backend string) (map[string]haproxy.ServerConns, error)
	// Start starts HAProxy in master-worker mode and returns once its
	// master answers.
	Start(ctx context.Context) (Process, error)
}

// Process is an HAProxy that the engine started.
type Process interface {
	PID() int
	Done() <-chan struct{}
	ExitErr() error
	Tail() string
	Stop(timeout time.Duration) error
}

// HAProxySettings say where HAProxy is.
type HAProxySettings struct {
	Binary, Config, MasterSocket, RuntimeSocket, PIDFile string
	OnLine                                               func(string) // what a started HAProxy prints
}

// NewHAProxy reaches HAProxy through its binary and sockets.
// Without a runtime socket, runtime commands go through the master CLI to
// the current worker ("@1 "), so that no admin socket is needed.
func NewHAProxy(s HAProxySettings) HAProxy {
	rt := &haproxy.Runtime{Path: s.RuntimeSocket}
	if s.RuntimeSocket == "" && s.MasterSocket != "" {
		rt = &haproxy.Runtime{Path: s.MasterSocket, Prefix: "@1 "}
	}
	return &realHAProxy{s: s, master: &haproxy.Master{Path: s.MasterSocket}, rt: rt}
}

type realHAProxy struct {
	s      HAProxySettings
	master *haproxy.Master
	rt     *haproxy.Runtime
}

var errNoRuntime = errors.New("no runtime_socket is set")

func (h *realHAProxy) Check(ctx context.Context, path string) error {
	return haproxy.Check(ctx, h.s.Binary, path)
}

func (h *realHAProxy) ShowProc(ctx context.Context) (haproxy.Procs, error) {
	if h.s.MasterSocket == "" {
		return haproxy.Procs{}, errNoMaster
	}
	return h.master.ShowProc(ctx)
}

func (h *realHAProxy) Reload(ctx context.Context) (haproxy.ReloadResult, error) {
	if h.s.MasterSocket == "" {
		return haproxy.ReloadResult{}, errNoMaster
	}
	return h.master.Reload(ctx)
}

func (h *realHAProxy) ServersState(ctx context.Context) (*haproxy.ServersState, error) {
	if h.rt.Path == "" {
		return nil, errNoRuntime
	}
	return h.rt.ServersState(ctx)
}

func (h *realHAProxy) Version(ctx context.Context) (int, int, error) { return h.rt.Version(ctx) }

func (h *realHAProxy) Do(ctx context.Context, s haproxy.Step) error { return h.rt.Do(ctx, s) }

func (h *realHAProxy) ServerConns(ctx context.Context, backend string) (map[string]haproxy.ServerConns, error) {
	return h.rt.ServerConns(ctx, backend)
}

func (h *realHAProxy) Start(ctx context.Context) (Process, error) {
	p, err := haproxy.StartProcess(ctx, haproxy.ProcessOptions{
		Binary: h.s.Binary, Config: h.s.Config, MasterSocket: h.s.MasterSocket,
		PIDFile: h.s.PIDFile, OnLine: h.s.OnLine,
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}
