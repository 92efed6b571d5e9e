package haproxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// ServerConns is one server's connections as `show servers conn` reports
// them: in use, and idle in its pool (kept for reuse, to its current
// address at the time they were opened).
type ServerConns struct {
	Used, Idle int
}

// ParseServerConns parses the reply of `show servers conn BACKEND`, keyed
// by server name. Columns are found by name in the "# bkname/svname ..."
// header, which differs between releases.
func ParseServerConns(reply string) (map[string]ServerConns, error) {
	lines := strings.Split(strings.TrimSpace(reply), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "# ") {
		return nil, fmt.Errorf("show servers conn: unknown format %q", firstLine(reply))
	}
	cols := strings.Fields(strings.TrimPrefix(lines[0], "# "))
	used, idle := -1, -1
	for i, c := range cols {
		switch c {
		case "used_cur":
			used = i
		case "idle_cur":
			idle = i
		}
	}
	if used < 0 || idle < 0 {
		return nil, fmt.Errorf("show servers conn: no used_cur or idle_cur column in %q", lines[0])
	}
	out := map[string]ServerConns{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= max(used, idle) {
			continue
		}
		_, server, ok := strings.Cut(f[0], "/")
		u, err1 := strconv.Atoi(f[used])
		n, err2 := strconv.Atoi(f[idle])
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("show servers conn: cannot read %q", l)
		}
		out[server] = ServerConns{Used: u, Idle: n}
	}
	return out, nil
}

// ServerConns asks HAProxy for the connections of backend's servers.
func (r *Runtime) ServerConns(ctx context.Context, backend string) (map[string]ServerConns, error) {
	if err := CheckWords(backend); err != nil {
		return nil, fmt.Errorf("show servers conn: %w", err)
	}
	reply, err := r.Command(ctx, "show servers conn "+backend)
	if err != nil {
		return nil, err
	}
	return ParseServerConns(reply)
}
