package haproxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Admin state bits of srv_admin_state (HAProxy's SRV_ADMF_*).
const (
	AdminForcedMaint     = 0x01 // set server state maint, disable server
	AdminInheritedMaint  = 0x02 // tracked server in maint
	AdminConfigMaint     = 0x04 // `disabled` in the config
	AdminForcedDrain     = 0x08 // set server state drain
	AdminInheritedDrain  = 0x10
	AdminResolutionMaint = 0x20 // DNS resolution failed
	AdminHostnameMaint   = 0x40
)

// ServerState is one server as `show servers state` reports it.
type ServerState struct {
	Backend    string
	Server     string
	Addr       string
	Port       int // 0 when HAProxy prints none
	OpState    int // srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping
	AdminState int // srv_admin_state, Admin* bits
	UWeight    int // srv_uweight: the weight in force
	IWeight    int // srv_iweight: the weight the config gave
	Fields     []string
}

// Maint reports whether the server is in forced maintenance.
func (s ServerState) Maint() bool { return s.AdminState&AdminForcedMaint != 0 }

// ServersState is a parsed `show servers state` reply.
type ServersState struct {
	Version string   // the first line, "1"
	Columns []string // column names, from the "# be_id ..." line
	Servers []ServerState
}

// Find returns backend/server, or nil.
func (s *ServersState) Find(backend, server string) *ServerState {
	for i := range s.Servers {
		if s.Servers[i].Backend == backend && s.Servers[i].Server == server {
			return &s.Servers[i]
		}
	}
	return nil
}

// ParseServersState parses the reply of `show servers state`.
func ParseServersState(reply string) (*ServersState, error) {
	lines := strings.Split(strings.TrimRight(reply, "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) != "1" {
		return nil, fmt.Errorf("show servers state: unknown format %q", firstLine(reply))
	}
	st := &ServersState{Version: "1"}
	col := map[string]int{}
	for i, l := range lines[1:] {
		if h, ok := strings.CutPrefix(strings.TrimSpace(l), "#"); ok {
			// HAProxy prints one header; two could give the servers
			// read before and after them different columns.
			if st.Columns != nil {
				return nil, fmt.Errorf("show servers state: line %d: second column header", i+2)
			}
			st.Columns = append([]string{}, strings.Fields(h)...) // non-nil: the header was seen
			for j, c := range st.Columns {
				col[c] = j
			}
			continue
		}
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if len(st.Columns) == 0 || len(f) < len(st.Columns) {
			return nil, fmt.Errorf("show servers state: line %d: %d fields, want %d", i+2, len(f), len(st.Columns))
		}
		get := func(name string) string {
			if j, ok := col[name]; ok {
				return f[j]
			}
			return ""
		}
		// HAProxy prints no negative port, state or weight; one would
		// become a runtime command HAProxy refuses (set weight -1).
		var negative string
		num := func(name string) int {
			n, _ := strconv.Atoi(get(name))
			if n < 0 && negative == "" {
				negative = name + " " + get(name)
			}
			return max(n, 0)
		}
		s := ServerState{
			Backend: get("be_name"), Server: get("srv_name"), Addr: get("srv_addr"),
			Port: num("srv_port"), OpState: num("srv_op_state"), AdminState: num("srv_admin_state"),
			UWeight: num("srv_uweight"), IWeight: num("srv_iweight"), Fields: f,
		}
		if s.Backend == "" || s.Server == "" {
			return nil, fmt.Errorf("show servers state: line %d: no be_name or srv_name", i+2)
		}
		if negative != "" {
			return nil, fmt.Errorf("show servers state: line %d: negative %s", i+2, negative)
		}
		st.Servers = append(st.Servers, s)
	}
	return st, nil
}

// Bytes renders s as `show servers state` prints it: the version, the
// column header, and each server's fields as parsed.
func (s *ServersState) Bytes() []byte {
	var b strings.Builder
	b.WriteString(s.Version + "\n")
	if s.Columns != nil {
		b.WriteString("# " + strings.Join(s.Columns, " ") + "\n")
	}
	for _, srv := range s.Servers {
		b.WriteString(strings.Join(srv.Fields, " ") + "\n")
	}
	return []byte(b.String())
}

// ServersState runs `show servers state` and parses it.
func (r *Runtime) ServersState(ctx context.Context) (*ServersState, error) {
	return r.backendServersState(ctx, "")
}

// backendServersState is `show servers state [BACKEND]`, parsed.
func (r *Runtime) backendServersState(ctx context.Context, backend string) (*ServersState, error) {
	reply, err := r.Command(ctx, strings.TrimSpace("show servers state "+backend))
	if err != nil {
		return nil, err
	}
	st, err := ParseServersState(reply)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path, err)
	}
	return st, nil
}
