package haproxy

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// addTestdata seeds f with every testdata file whose name has prefix.
func addTestdata(f *testing.F, prefix string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", prefix+"*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
}

func FuzzParseShowProc(f *testing.F) {
	addTestdata(f, "showproc-")
	f.Add("1 master 0\n# workers\n2 worker 0\n# old workers\n3 worker 1\n# programs\n4 p 0 0d -\n")
	f.Add("1 master 0 [failed: 9]")
	f.Add("1 master 0 [failed:")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseShowProc(s)
		if err != nil {
			return
		}
		if p.Master.Type != "master" || p.Master.PID <= 0 || p.Master.Reloads < 0 || p.Master.Failed < 0 {
			t.Fatalf("accepted bad master row: %+v", p.Master)
		}
		for _, w := range append(p.Workers, p.OldWorkers...) {
			if w.PID <= 0 || w.Reloads < 0 {
				t.Fatalf("accepted bad worker row: %+v", w)
			}
		}
		again, err := ParseShowProc(formatShowProc(p))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", formatShowProc(p), err)
		}
		if !reflect.DeepEqual(p, again) {
			t.Fatalf("round trip changed\n%+v\ninto\n%+v", p, again)
		}
	})
}

// formatShowProc prints p the way HAProxy's master CLI does.
func formatShowProc(p Procs) string {
	var b strings.Builder
	row := func(pr Proc, failed string) {
		fmt.Fprintf(&b, "%d %s %d%s", pr.PID, pr.Type, pr.Reloads, failed)
		for _, f := range []string{pr.Uptime, pr.Version} {
			if f != "" {
				b.WriteString(" " + f)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("#<PID>          <type>          <reloads>       <uptime>        <version>\n")
	failed := ""
	if p.Master.HasFailed {
		failed = fmt.Sprintf(" [failed: %d]", p.Master.Failed)
	}
	row(p.Master.Proc, failed)
	for _, sec := range []struct {
		name  string
		procs []Proc
	}{{"workers", p.Workers}, {"old workers", p.OldWorkers}, {"programs", p.Programs}} {
		b.WriteString("# " + sec.name + "\n")
		for _, pr := range sec.procs {
			row(pr, "")
		}
	}
	return b.String()
}

func FuzzParseReloadReply(f *testing.F) {
	addTestdata(f, "reload-")
	f.Add("Success=1\n--\n")
	f.Add("Success=0")
	f.Add("--\n")
	f.Fuzz(func(t *testing.T, s string) {
		ok, supported, msgs, err := ParseReloadReply(s)
		if err != nil && (ok || supported) {
			t.Fatalf("error with ok=%v supported=%v", ok, supported)
		}
		if !supported && (ok || msgs != "") {
			t.Fatalf("unsupported reply with ok=%v msgs=%q", ok, msgs)
		}
		if err == nil && supported != strings.HasPrefix(strings.TrimSpace(s), "Success=") {
			t.Fatalf("supported=%v for %q", supported, s)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"gateway.cfg"} {
		b, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(planBase)
	f.Add(validConfig)
	f.Add("backend b\n server s [::1]:80 weight\n server t 'a b' \"c\\\"\" \\\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConfig([]byte(s))
		if err != nil {
			return
		}
		if ch := Plan(c, c); ch.Reload || len(ch.Servers) != 0 {
			t.Fatalf("Plan(c, c) = %+v", ch)
		}
		for _, sec := range c.Sections {
			for _, srv := range sec.Servers {
				if srv.Name == "" || srv.Address == "" || srv.Weight < -1 || srv.Port < 0 || srv.Port > 65535 {
					t.Fatalf("bad server %+v", srv)
				}
			}
		}
	})
}

func FuzzParseInfoVersion(f *testing.F) {
	addTestdata(f, "show-info-")
	f.Add("Version: 2.6.12-1+deb12u4\n")
	f.Add("Name: HAProxy\nVersion: 3.0\nVersion: 2.6\n")
	f.Add("Version: -1.+2\n")
	f.Add("Version:")
	f.Fuzz(func(t *testing.T, s string) {
		major, minor, err := parseInfoVersion(s)
		if err != nil {
			if major != 0 || minor != 0 {
				t.Fatalf("error %v with version %d.%d", err, major, minor)
			}
			return
		}
		if major < 0 || minor < 0 {
			t.Fatalf("%q: version %d.%d", s, major, minor)
		}
		line := fmt.Sprintf("Version: %d.%d\n", major, minor)
		m2, n2, err := parseInfoVersion(line)
		if err != nil || m2 != major || n2 != minor {
			t.Fatalf("%q parsed to %d.%d, %q to %d.%d (%v)", s, major, minor, line, m2, n2, err)
		}
	})
}

// unsafeByte is CheckWords' rule restated byte by byte, the way HAProxy
// reads a CLI line: ';' ends a command, blanks end a word, quotes and
// backslashes change both, and a control character ends the line.
func unsafeByte(c byte) bool {
	return c == ';' || c == '"' || c == '\'' || c == '\\' || c == ' ' || c < 0x20 || c == 0x7f
}

// cliSplit splits a line received on the runtime API into commands and
// their words as HAProxy's CLI does: an unescaped ';' separates commands,
// unquoted blanks separate words, a backslash escapes the next byte.
func cliSplit(line string) [][]string {
	var (
		cmds   [][]string
		words  []string
		word   []byte
		inWord bool
		quote  byte
	)
	endWord := func() {
		if inWord {
			words = append(words, string(word))
		}
		word, inWord = nil, false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			word, inWord = append(word, line[i]), true
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			word = append(word, c)
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			endWord()
		case c == ';' || c == '\n':
			endWord()
			if words != nil {
				cmds = append(cmds, words)
			}
			words = nil
		default:
			word, inWord = append(word, c), true
		}
	}
	endWord()
	if words != nil {
		cmds = append(cmds, words)
	}
	return cmds
}

// cliRecorder is a runtime API that records each line it receives and
// answers it as HAProxy does when the command succeeds.
type cliRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *cliRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lines
	r.lines = nil
	return l
}

func newCLIRecorder(f *testing.F) (*cliRecorder, string) {
	path := filepath.Join(f.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		f.Fatal(err)
	}
	rec := &cliRecorder{}
	done := make(chan struct{})
	f.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, _ := io.ReadAll(c) // the client half-closes after its line
			line := string(b)
			rec.mu.Lock()
			rec.lines = append(rec.lines, line)
			rec.mu.Unlock()
			reply := "\n"
			switch {
			case strings.HasPrefix(line, "add server "):
				reply = "New server registered.\n\n"
			case strings.HasPrefix(line, "del server "):
				reply = "Server deleted.\n\n"
			}
			_, _ = io.WriteString(c, reply)
			c.Close()
		}
	}()
	return rec, path
}

// FuzzCheckWords sends Consul-supplied words through every Runtime method
// that takes them, to a recording socket: a word CheckWords accepts holds
// no unsafe byte, a command with an unsafe word is never sent, and every
// line sent splits back into exactly the words meant.
func FuzzCheckWords(f *testing.F) {
	f.Add("gateway", "gw-1", "10.0.0.1:8080", "check", uint16(8080))
	f.Add("be", "s1", "fd00::1", "inter", uint16(0))
	f.Add("be", "x;disable frontend fe;", "127.0.0.1", "check-sni", uint16(1))
	f.Add("be", "s1", "127.0.0.1", "\"x\"", uint16(2))
	f.Add("b\te", "s\x7f", "a\\;b", "c\nd", uint16(3))
	f.Add("be", "s", "a b", "", uint16(4))
	f.Add("bé", "s\xff", "\u00a0", "\u2028", uint16(5))
	rec, path := newCLIRecorder(f)
	r := &Runtime{Path: path}
	f.Fuzz(func(t *testing.T, be, srv, addr, arg string, port uint16) {
		words := []string{be, srv, addr, arg}
		safe := true
		for _, w := range words {
			if w == "" {
				safe = false
			}
			for i := 0; i < len(w); i++ {
				if unsafeByte(w[i]) {
					safe = false
				}
			}
		}
		if err := CheckWords(words...); (err == nil) != safe {
			t.Fatalf("CheckWords(%q) = %v, want safe=%v", words, err, safe)
		}
		name := be + "/" + srv
		p := int(port)
		setAddr := []string{"set", "server", name, "addr", addr}
		if p > 0 {
			setAddr = append(setAddr, "port", fmt.Sprint(p))
		}
		type call struct {
			do   func() error
			sent [][]string // the commands, when every word is safe
			ok   bool       // whether its words are safe
		}
		safeOf := func(ws ...string) bool { return CheckWords(ws...) == nil }
		// A name is safe words with no '/', where the CLI splits backend/server.
		nameOK := safeOf(be, srv) && !strings.Contains(be+srv, "/")
		ctx := t.Context()
		for _, c := range []call{
			{func() error { return r.SetServerAddr(ctx, be, srv, addr, p) }, [][]string{setAddr}, nameOK && safeOf(addr)},
			{func() error { return r.SetServerWeight(ctx, be, srv, p%257) }, [][]string{{"set", "server", name, "weight", fmt.Sprint(p % 257)}}, nameOK},
			{func() error { return r.SetServerState(ctx, be, srv, "drain") }, [][]string{{"set", "server", name, "state", "drain"}}, nameOK},
			{func() error {
				return r.AddServer(ctx, ServerAdd{Backend: be, Server: srv, Address: addr, Args: []string{arg, "check"}, Check: true})
			}, [][]string{{"add", "server", name, addr, arg, "check"}, {"enable", "health", name}, {"enable", "server", name}}, nameOK && safeOf(addr, arg)},
			{func() error { return r.DelServer(ctx, ServerDel{Backend: be, Server: srv}) }, [][]string{{"disable", "server", name}, {"del", "server", name}}, nameOK},
		} {
			err := c.do()
			lines := rec.take()
			if !c.ok {
				if err == nil || lines != nil {
					t.Fatalf("unsafe words %q: err %v, sent %q", words, err, lines)
				}
				continue
			}
			if err != nil {
				t.Fatalf("words %q: %v", words, err)
			}
			var got [][]string
			for _, l := range lines {
				if !strings.HasSuffix(l, "\n") || strings.Count(l, "\n") != 1 {
					t.Fatalf("sent %q: not one line", l)
				}
				cmds := cliSplit(l)
				if len(cmds) != 1 {
					t.Fatalf("sent %q: %d commands %q", l, len(cmds), cmds)
				}
				got = append(got, cmds[0])
			}
			if !slices.EqualFunc(got, c.sent, slices.Equal) {
				t.Fatalf("sent %q, split into %q, want %q", lines, got, c.sent)
			}
		}
	})
}
