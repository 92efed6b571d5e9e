package haproxy

import (
	"fmt"
	"strconv"
	"strings"
)

// Config is an haproxy.cfg split into its sections, in file order.
type Config struct {
	Sections []*Section
}

// Section is one section of a config: its header and its meaningful lines.
type Section struct {
	Kind    string   // section keyword: global, defaults, frontend, backend, listen, ...
	Name    string   // section name ("" for an unnamed global or defaults)
	Header  string   // header line as written, trimmed
	Line    int      // line number of the header, from 1
	Lines   []Line   // body lines, trimmed, without comments or blank lines
	Servers []Server // parsed `server` lines (backend and listen sections only)
}

// Line is one body line of a section.
type Line struct {
	Num  int    // line number, from 1
	Text string // text as written, trimmed, comment removed
}

// Server is a parsed `server NAME ADDR[:PORT] [options...]` line.
type Server struct {
	Name     string   // server name
	Address  string   // ADDR[:PORT] as written
	Addr     string   // address part of Address
	Port     int      // port part of Address; 0 when absent or not a plain number
	Weight   int      // value of `weight`; -1 when absent
	Disabled bool     // whether the `disabled` keyword is present
	Rest     []string // every other option, in order, as written
	Line     int      // line number, from 1
}

// Find returns the first section with the given kind and name, or nil.
func (c *Config) Find(kind, name string) *Section {
	for _, s := range c.Sections {
		if s.Kind == kind && s.Name == name {
			return s
		}
	}
	return nil
}

// sectionKind reports whether word opens a section.
func sectionKind(word string) bool {
	switch word {
	case "global", "defaults", "frontend", "backend", "listen", "resolvers",
		"peers", "userlist", "program", "http-errors", "ring", "mailers",
		"cache", "fcgi-app", "log-forward", "crt-store", "traces", "acme":
		return true
	}
	return false
}

// hasServers reports whether `server` lines of a section kind are proxy servers.
func hasServers(kind string) bool { return kind == "backend" || kind == "listen" }

// ParseConfig splits an haproxy.cfg into sections and parses its server lines.
func ParseConfig(b []byte) (*Config, error) {
	c := &Config{}
	var cur *Section
	for i, raw := range strings.Split(string(b), "\n") {
		num := i + 1
		text := strings.TrimSpace(stripComment(raw))
		if text == "" {
			continue
		}
		words := splitWords(text)
		if sectionKind(words[0]) {
			cur = &Section{Kind: words[0], Header: text, Line: num}
			if len(words) > 1 {
				cur.Name = words[1]
			}
			c.Sections = append(c.Sections, cur)
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: %q outside any section", num, words[0])
		}
		cur.Lines = append(cur.Lines, Line{Num: num, Text: text})
		if words[0] == "server" && hasServers(cur.Kind) {
			srv, err := parseServer(words)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s %s: %w", num, cur.Kind, cur.Name, err)
			}
			srv.Line = num
			for _, prev := range cur.Servers {
				if prev.Name == srv.Name {
					return nil, fmt.Errorf("line %d: %s %s: server %s already defined at line %d", num, cur.Kind, cur.Name, srv.Name, prev.Line)
				}
			}
			cur.Servers = append(cur.Servers, srv)
		}
	}
	return c, nil
}

// stripComment cuts an unquoted, unescaped '#' and what follows it.
func stripComment(s string) string {
	var squote, dquote bool
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && !squote:
			i++
		case c == '\'' && !dquote:
			squote = !squote
		case c == '"' && !squote:
			dquote = !dquote
		case c == '#' && !squote && !dquote:
			return s[:i]
		}
	}
	return s
}

// splitWords splits a line on unquoted, unescaped blanks, keeping each word
// as written (quotes and backslashes included).
// firstWord is the first word of a trimmed line, without splitting the
// rest: the common question, asked of every line of a large config.
func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i]
	}
	return s
}

func splitWords(s string) []string {
	var (
		words          []string
		squote, dquote bool
		start          = -1
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		blank := (c == ' ' || c == '\t') && !squote && !dquote
		if blank {
			if start >= 0 {
				words = append(words, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
		switch {
		case c == '\\' && !squote:
			i++
		case c == '\'' && !dquote:
			squote = !squote
		case c == '"' && !squote:
			dquote = !dquote
		}
	}
	if start >= 0 {
		words = append(words, s[start:])
	}
	return words
}

// serverArgKeyword reports server options that take one argument, so that a
// value such as `cookie disabled` is not read as the `disabled` keyword.
func serverArgKeyword(w string) bool {
	switch w {
	case "addr", "agent-addr", "agent-inter", "agent-port", "agent-send",
		"alpn", "ca-file", "check-alpn", "check-proto", "check-sni", "ciphers",
		"ciphersuites", "client-sigalgs", "cookie", "crl-file", "crt", "curves",
		"downinter", "error-limit", "fall", "fastinter", "guid", "hash-key", "id",
		"init-addr", "inter", "log-bufsize", "log-proto", "max-reuse", "maxconn",
		"maxqueue", "minconn", "namespace", "npn", "observe", "on-error",
		"on-marked-down", "on-marked-up", "pool-conn-name", "pool-low-conn",
		"pool-max-conn", "pool-purge-delay", "port", "proto", "redir",
		"resolve-net", "resolve-opts", "resolve-prefer", "resolvers", "rise",
		"send-proxy-v2-options", "set-proxy-v2-tlv-fmt", "shard", "sigalgs",
		"slowstart", "sni", "socks4", "source", "ssl-max-ver", "ssl-min-ver",
		"tcp-ut", "track", "usesrc", "verify", "verifyhost", "weight", "ws":
		return true
	}
	return false
}

// parseServer parses the words of a `server` line.
func parseServer(words []string) (Server, error) {
	if len(words) < 3 {
		return Server{}, fmt.Errorf("server line needs a name and an address: %q", strings.Join(words, " "))
	}
	s := Server{Name: words[1], Address: words[2], Weight: -1}
	s.Addr, s.Port = splitAddress(words[2])
	opts := words[3:]
	for i := 0; i < len(opts); i++ {
		w := opts[i]
		switch {
		case w == "disabled":
			s.Disabled = true
		case w == "weight" && i+1 < len(opts):
			n, err := strconv.Atoi(opts[i+1])
			if err != nil || n < 0 {
				s.Rest = append(s.Rest, w, opts[i+1])
			} else {
				s.Weight = n
			}
			i++
		case serverArgKeyword(w) && i+1 < len(opts):
			s.Rest = append(s.Rest, w, opts[i+1])
			i++
		default:
			s.Rest = append(s.Rest, w)
		}
	}
	return s, nil
}

// splitAddress splits ADDR[:PORT] the way HAProxy does: the port follows the
// last colon, and brackets may enclose an IPv6 address. A port that is not a
// plain number (an offset, a range, a variable) leaves Addr as written and Port 0.
func splitAddress(a string) (string, int) {
	host, port := a, ""
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return a, 0
		}
		host, port = a[1:end], strings.TrimPrefix(a[end+1:], ":")
		if a[end+1:] != "" && !strings.HasPrefix(a[end+1:], ":") {
			return a, 0
		}
	} else if i := strings.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i+1:]
	}
	if port == "" {
		return host, 0
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] == '+' || port[0] == '-' {
		return a, 0
	}
	return host, n
}
