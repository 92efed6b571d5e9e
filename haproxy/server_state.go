package haproxy

import (
	"fmt"
	"strings"
)

// KeepServerState filters `show servers state` output for a config about
// to be loaded: it keeps the lines of servers that exist in cfg at the same
// address and port, and drops the others. HAProxy would otherwise restore
// a moved server's old address, and an old health state that says nothing
// of the new one.
func KeepServerState(state string, cfg *Config) string {
	lines := strings.Split(state, "\n")
	var out []string
	var col map[string]int
	for _, l := range lines {
		if strings.HasPrefix(l, "# ") {
			col = map[string]int{}
			for i, f := range strings.Fields(strings.TrimPrefix(l, "# ")) {
				col[f] = i
			}
			out = append(out, l)
			continue
		}
		f := strings.Fields(l)
		if col == nil || len(f) == 0 || len(f) < len(col) {
			out = append(out, l) // the version line, blank lines
			continue
		}
		if serverAt(cfg, f[col["be_name"]], f[col["srv_name"]], f[col["srv_addr"]], f[col["srv_port"]]) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// serverAt reports whether cfg has server backend/name at addr:port.
func serverAt(cfg *Config, backend, name, addr, port string) bool {
	for _, s := range cfg.Sections {
		if s.Name != backend || !hasServers(s.Kind) {
			continue
		}
		for _, srv := range s.Servers {
			if srv.Name == name {
				return srv.Addr == addr && fmt.Sprint(srv.Port) == port
			}
		}
	}
	return false
}
