package haproxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrServerBusy marks a removed server that still has connections: it
// stays in maintenance, taking no new request, and is deleted later.
var ErrServerBusy = errors.New("server still has connections")

// ErrUnsafeWord marks a command word that could change the meaning of a
// CLI line (a ';', a quote, a backslash or a control character). Such a
// command is never sent.
var ErrUnsafeWord = errors.New("unsafe word for the haproxy cli")

// Do makes one runtime step, checking each reply exactly.
func (r *Runtime) Do(ctx context.Context, s Step) error {
	switch s.Kind {
	case StepSetState:
		return r.SetServerState(ctx, s.Backend, s.Server, s.State)
	case StepSetAddr:
		return r.SetServerAddr(ctx, s.Backend, s.Server, s.Addr, s.Port)
	case StepSetWeight:
		return r.SetServerWeight(ctx, s.Backend, s.Server, s.Weight)
	case StepAdd:
		return r.AddServer(ctx, s.Add)
	case StepDelete:
		return r.DelServer(ctx, ServerDel{Backend: s.Backend, Server: s.Server})
	}
	return fmt.Errorf("runtime step %d: unknown kind", s.Kind)
}

// AddServer creates a server with `add server`, then enables its health
// checks and the server, unless it is to stay disabled.
func (r *Runtime) AddServer(ctx context.Context, a ServerAdd) error {
	name := a.Backend + "/" + a.Server
	cmd := addServerCommand(a)
	if err := errors.Join(checkName(a.Backend, a.Server), CheckWords(append([]string{a.Address}, a.Args...)...)); err != nil {
		return fmt.Errorf("add server %s: %w", name, err)
	}
	reply, err := r.Command(ctx, cmd)
	if err != nil {
		return err
	}
	if strings.TrimSpace(reply) != "New server registered." {
		return fmt.Errorf("add server %s on %s: %w: %s", name, r.Path, ErrRuntimeRejected, strings.TrimSpace(reply))
	}
	if a.Check {
		if err := r.run(ctx, "enable health "+name); err != nil {
			return err
		}
	}
	if !a.Disabled {
		return r.run(ctx, "enable server "+name)
	}
	return nil
}

// DelServer puts a server in maintenance, so that it takes no new request,
// and deletes it. A server that still serves requests is left in
// maintenance and ErrServerBusy returned: the caller tries again later,
// without waiting here.
func (r *Runtime) DelServer(ctx context.Context, d ServerDel) error {
	name := d.Backend + "/" + d.Server
	if err := checkName(d.Backend, d.Server); err != nil {
		return fmt.Errorf("del server: %w", err)
	}
	if err := r.run(ctx, "disable server "+name); err != nil {
		return err
	}
	reply, err := r.Command(ctx, "del server "+name)
	if err != nil {
		return err
	}
	switch reply = strings.TrimSpace(reply); {
	case reply == "Server deleted.":
		return nil
	case strings.Contains(reply, "connections"):
		return fmt.Errorf("del server %s: %w", name, ErrServerBusy)
	}
	return fmt.Errorf("del server %s on %s: %w: %s", name, r.Path, ErrRuntimeRejected, reply)
}

// CheckWords returns ErrUnsafeWord for a word that holds a ';', a quote, a
// backslash or a control character: the CLI splits commands on ';' and
// words on blanks, so such a word could smuggle a command in.
func CheckWords(words ...string) error {
	for _, w := range words {
		if w == "" {
			return fmt.Errorf("%w: empty word", ErrUnsafeWord)
		}
		for _, c := range w {
			if c == ';' || c == '"' || c == '\'' || c == '\\' || c == ' ' || c < 0x20 || c == 0x7f {
				return fmt.Errorf("%w: %q", ErrUnsafeWord, w)
			}
		}
	}
	return nil
}

// checkName checks a backend and a server name: safe words, and no '/',
// since the CLI splits backend/server at the first one.
func checkName(backend, server string) error {
	if err := CheckWords(backend, server); err != nil {
		return err
	}
	if strings.Contains(backend, "/") || strings.Contains(server, "/") {
		return fmt.Errorf("%w: %q", ErrUnsafeWord, backend+"/"+server)
	}
	return nil
}
