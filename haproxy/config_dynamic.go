package haproxy

import (
	"fmt"
	"slices"
	"strings"
)

// ServerAdd is a server to create at runtime with `add server`. Args holds
// every option, the backend's default-server options first: dynamic servers
// do not inherit default-server.
type ServerAdd struct {
	Backend, Server string
	Address         string   // ADDR:PORT
	Args            []string // options for `add server`
	Check           bool     // start health checks after enabling
	Disabled        bool     // leave in maintenance
}

// ServerDel is a server to remove at runtime with `del server`.
type ServerDel struct {
	Backend, Server string
}

// dynamicBalance lists the algorithms that accept servers added at runtime.
var dynamicBalance = []string{"roundrobin", "leastconn", "first", "random"}

// planMembership returns the servers to add and delete so that p.old's
// servers become p.new's, or a reason why only a reload can do it.
// Servers kept in both must keep their relative order.
func planMembership(c *Config, p *serverPair) ([]ServerAdd, []ServerDel, string) {
	if reason := dynamicSupport(p.new); reason != "" {
		return nil, nil, reason
	}
	last := -1 // the old index of the last kept server seen in new's order
	var adds []ServerAdd
	for _, s := range p.new.Servers {
		if i, ok := p.oldAt[s.Name]; ok {
			if i < last {
				return nil, nil, "servers reordered"
			}
			last = i
			continue
		}
		if reason := dynamicServer(s); reason != "" {
			return nil, nil, fmt.Sprintf("server %s added: %s", s.Name, reason)
		}
		adds = append(adds, serverAdd(c, p.new, s))
	}
	var dels []ServerDel
	for _, n := range p.oldNames {
		if _, ok := p.newAt[n]; !ok {
			dels = append(dels, ServerDel{Backend: p.new.Name, Server: n})
		}
	}
	return adds, dels, ""
}

// dynamicSupport says why a section cannot take runtime servers, or "".
func dynamicSupport(s *Section) string {
	for _, l := range s.Lines {
		if firstWord(l.Text) != "balance" {
			continue
		}
		w := splitWords(l.Text)
		if w[0] == "balance" && len(w) > 1 && !slices.Contains(dynamicBalance, w[1]) {
			return fmt.Sprintf("balance %s takes no runtime servers", w[1])
		}
	}
	return ""
}

// dynamicServer says why a server line cannot be added at runtime, or "".
func dynamicServer(s Server) string {
	if s.Port == 0 {
		return "no plain port"
	}
	for _, w := range s.Rest {
		switch w {
		case "track", "agent-check", "resolvers", "init-addr", "id", "cookie", "redir", "backup":
			return "option " + w + " needs a reload"
		}
	}
	return ""
}

// defaultServerArgs collects the default-server options that apply to a
// backend: its defaults section's, then its own.
func defaultServerArgs(c *Config, b *Section) []string {
	var args []string
	if d := defaultsFor(c, b); d != nil {
		args = append(args, sectionDefaultServer(d)...)
	}
	return append(args, sectionDefaultServer(b)...)
}

// defaultsFor finds the defaults section a proxy inherits from: the one its
// header names with `from`, else the last one before it.
func defaultsFor(c *Config, b *Section) *Section {
	w := splitWords(b.Header)
	if i := slices.Index(w, "from"); i >= 0 && i+1 < len(w) {
		return c.Find("defaults", w[i+1])
	}
	var last *Section
	for _, s := range c.Sections {
		if s == b {
			break
		}
		if s.Kind == "defaults" {
			last = s
		}
	}
	return last
}

func sectionDefaultServer(s *Section) []string {
	var args []string
	for _, l := range s.Lines {
		if firstWord(l.Text) != "default-server" {
			continue
		}
		if w := splitWords(l.Text); w[0] == "default-server" {
			args = append(args, w[1:]...)
		}
	}
	return args
}

// addServerCommand is the runtime command that creates a.
func addServerCommand(a ServerAdd) string {
	return strings.TrimSpace(fmt.Sprintf("add server %s/%s %s %s", a.Backend, a.Server, a.Address, strings.Join(a.Args, " ")))
}
