package haproxy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Backends created and deleted at runtime (FeatureRuntimeBackends, 3.4).
// The management guide still marks add and del backend experimental, so
// they are sent after `experimental-mode on` in the same session (3.4.0
// also takes them without).

// ErrBackendBusy marks an unpublished backend that still has streams or
// servers in use: the caller deletes it later.
var ErrBackendBusy = errors.New("backend still in use")

// backendRemovableWait is how long `wait be-removable` may block; well
// inside runtimeTimeout.
const backendRemovableWait = 500

// ShowBackends lists the backends HAProxy runs, listen sections included.
func (r *Runtime) ShowBackends(ctx context.Context) ([]string, error) {
	reply, err := r.Command(ctx, "show backend")
	if err != nil {
		return nil, err
	}
	var names []string
	for i, line := range strings.Split(strings.TrimSpace(reply), "\n") {
		line = strings.TrimSpace(line)
		if i == 0 && line != "# name" {
			return nil, fmt.Errorf("show backend on %s: unexpected answer %q", r.Path, firstLine(reply))
		}
		if i > 0 && line != "" {
			names = append(names, line)
		}
	}
	return names, nil
}

// experimental sends cmd in a session with experimental mode on. Through
// the master CLI the mode is set on the master's session, which passes it
// to the command it forwards.
func (r *Runtime) experimental(ctx context.Context, cmd string) (string, error) {
	reply, err := exchange(ctx, r.Path, "experimental-mode on; "+r.Prefix+cmd, runtimeDialRetry)
	if err != nil {
		return reply, fmt.Errorf("runtime api: %w", err)
	}
	return strings.TrimSpace(reply), nil
}

// AddBackend creates b, adds its servers and publishes it. A backend
// left half-built by a failure is unpublished, takes no traffic, and is
// deleted by the caller's next comparison.
func (r *Runtime) AddBackend(ctx context.Context, b BackendAdd) error {
	words := []string{b.Name, b.From}
	cmd := "add backend " + b.Name + " from " + b.From
	if b.GUID != "" {
		words = append(words, b.GUID)
		cmd += " guid " + b.GUID
	}
	if err := CheckWords(words...); err != nil {
		return fmt.Errorf("add backend %s: %w", b.Name, err)
	}
	ctx, cancel := withRuntimeTimeout(ctx)
	defer cancel()
	reply, err := r.experimental(ctx, cmd)
	if err != nil {
		return err
	}
	if !hasLine(reply, "New backend registered.") {
		return fmt.Errorf("%s on %s: %w: %s", cmd, r.Path, ErrRuntimeRejected, reply)
	}
	for _, s := range b.Servers {
		if err := r.AddServer(ctx, s); err != nil {
			return err
		}
	}
	return r.expect(ctx, "publish backend "+b.Name, "Backend published.")
}

// DelBackend unpublishes a backend, deletes its servers, waits briefly
// until HAProxy says it can go, and deletes it. A server or stream still
// in use returns ErrServerBusy or ErrBackendBusy, the backend left
// unpublished and taking no new request: the caller tries again later.
func (r *Runtime) DelBackend(ctx context.Context, name string) error {
	if err := CheckWords(name); err != nil {
		return fmt.Errorf("del backend %s: %w", name, err)
	}
	ctx, cancel := withRuntimeTimeout(ctx)
	defer cancel()
	reply, err := r.Command(ctx, "unpublish backend "+name)
	if err != nil {
		return err
	}
	if hasLine(reply, "No such backend.") {
		return nil // gone already: a delete whose answer was lost
	}
	if !strings.Contains(reply, "unpublished") {
		return fmt.Errorf("unpublish backend %s on %s: %w: %s", name, r.Path, ErrRuntimeRejected, strings.TrimSpace(reply))
	}
	st, err := r.backendServersState(ctx, name)
	if err != nil {
		return err
	}
	for _, s := range st.Servers {
		if err := r.DelServer(ctx, ServerDel{Backend: name, Server: s.Server}); err != nil {
			return err
		}
	}
	reply, err = r.Command(ctx, fmt.Sprintf("wait %d be-removable %s", backendRemovableWait, name))
	if err != nil {
		return err
	}
	if !hasLine(strings.TrimSpace(reply), "Done.") {
		return fmt.Errorf("del backend %s: %w: %s", name, ErrBackendBusy, reply)
	}
	reply, err = r.experimental(ctx, "del backend "+name)
	if err != nil {
		return err
	}
	if !hasLine(reply, "Backend deleted.") {
		return fmt.Errorf("del backend %s on %s: %w: %s", name, r.Path, ErrRuntimeRejected, reply)
	}
	return nil
}

// hasLine reports whether reply has the line want. Commands sent with
// experimental mode on may be answered with server notices too.
func hasLine(reply, want string) bool {
	return slices.Contains(strings.Split(reply, "\n"), want)
}

// expect sends cmd and wants exactly the answer want.
func (r *Runtime) expect(ctx context.Context, cmd, want string) error {
	reply, err := r.Command(ctx, cmd)
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(reply); got != want {
		return fmt.Errorf("%s on %s: %w: %s", cmd, r.Path, ErrRuntimeRejected, got)
	}
	return nil
}

// withRuntimeTimeout bounds a sequence of commands by one runtimeTimeout
// each when ctx has no deadline of its own.
func withRuntimeTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, 4*runtimeTimeout)
}
