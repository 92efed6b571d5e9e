package haproxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/internal/testbin"
)

func TestParseMap(t *testing.T) {
	cases := []struct {
		name, in string
		want     []MapEntry
		ok       bool
	}{
		{"plain", "/a be_a\n/b be_b|1|/b\n", []MapEntry{{"/a", "be_a"}, {"/b", "be_b|1|/b"}}, true},
		{"comments and blanks", "# c\n\n   \n\t/a\t be  \n", []MapEntry{{"/a", "be"}}, true},
		// HAProxy takes '#' as a comment only in the first column.
		{"indented hash is a key", "  #x v\n", []MapEntry{{"#x", "v"}}, false},
		{"value with blanks", "k a b\n", []MapEntry{{"k", "a b"}}, false},
		{"no value", "k\n", []MapEntry{{"k", ""}}, true},
		{"crlf", "k v\r\n", []MapEntry{{"k", "v"}}, true},
		{"semicolon", "k v;show\n", []MapEntry{{"k", "v;show"}}, false},
		{"no final newline", "k v", []MapEntry{{"k", "v"}}, true},
		{"long line", "k " + strings.Repeat("v", maxMapLine), []MapEntry{{"k", strings.Repeat("v", maxMapLine)}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ParseMap([]byte(c.in))
			if !slices.Equal(got, c.want) || ok != c.ok {
				t.Fatalf("ParseMap(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestParseShowMap(t *testing.T) {
	got, err := parseShowMap("/m", "0x55d5c0a8e0e0 /a/deep b|0|/\n0x55d5c0a8e1e0 /a a|1|/a\n\n")
	if want := []MapEntry{{"/a/deep", "b|0|/"}, {"/a", "a|1|/a"}}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
	if got, err := parseShowMap("/m", "\n"); err != nil || len(got) != 0 {
		t.Fatalf("empty map: %q, %v", got, err)
	}
	if _, err := parseShowMap("/m", "Unknown map identifier. Please use #<id> or <file>.\n"); !errors.Is(err, ErrUnknownMap) {
		t.Fatalf("unknown map: %v", err)
	}
	if _, err := parseShowMap("/m", "Permission denied\n"); !errors.Is(err, ErrRuntimeRejected) {
		t.Fatalf("refusal: %v", err)
	}
}

func TestAddMapCommandsChunks(t *testing.T) {
	var entries []MapEntry
	for i := range 2000 {
		entries = append(entries, MapEntry{fmt.Sprintf("/route/%04d", i), "backend_with_a_long_name|0|/"})
	}
	cmds := addMapCommands(7, "/m", entries)
	if len(cmds) < 2 {
		t.Fatalf("%d commands for 2000 entries; want several payloads", len(cmds))
	}
	var back []MapEntry
	for _, c := range cmds {
		if len(c) > mapChunk+200 {
			t.Errorf("payload of %d bytes", len(c))
		}
		head, body, _ := strings.Cut(c, "\n")
		if head != "add map @7 /m <<" {
			t.Fatalf("head %q", head)
		}
		e, ok := ParseMap([]byte(body))
		if !ok || strings.Contains(body, "\n\n") {
			t.Fatalf("payload %q", body)
		}
		back = append(back, e...)
	}
	if !slices.Equal(back, entries) {
		t.Fatal("payloads do not hold the entries in order")
	}
}

func TestRuntimeMaps(t *testing.T) {
	cfg := []byte(`frontend f
    http-request set-var(txn.r) path,map_beg(/etc/routes.map)
    http-request set-var(txn.r) req.hdr(host),concat(,txn.p),map_beg(/etc/routes.map,none) unless { var(txn.r) -m found }
    http-request set-var(txn.x) path,map_str_int(/etc/ints.map)
    acl blocked src -f /etc/acl.lst
    use_backend %[path,map(/etc/both.map)]
    http-request set-map(/etc/both.map) %[src] x
    http-request set-var(txn.y) path,map(/etc/prefix.map)
    http-request set-var(txn.z) path,map(/etc/prefix.map.old)
`)
	files := []string{"/etc/routes.map", "/etc/ints.map", "/etc/acl.lst", "/etc/both.map", "/etc/prefix.map", "/etc/unused.map"}
	got := RuntimeMaps(cfg, files)
	if want := []string{"/etc/routes.map", "/etc/ints.map"}; !slices.Equal(got, want) {
		t.Fatalf("RuntimeMaps = %q, want %q", got, want)
	}
}

func TestCheckMapEntry(t *testing.T) {
	for _, e := range []MapEntry{{"/a", "b"}, {"host.example/x", "be|2|/x/y"}, {"/%20~!$&()*+,=:@", "v"}, {"k", ""}} {
		if err := CheckMapEntry(e); err != nil {
			t.Errorf("%q: %v", e, err)
		}
	}
	for _, e := range []MapEntry{{"", "v"}, {"#k", "v"}, {"/a b", "v"}, {"/a", "b c"}, {"/a", "b;show info"},
		{"/a\n", "b"}, {"/a", "b\\"}, {"/a", "'b'"}, {"/a", `"b"`}, {"/a\x00", "b"}, {"/a", strings.Repeat("b", maxMapLine)}} {
		if err := CheckMapEntry(e); !errors.Is(err, ErrUnsafeWord) {
			t.Errorf("%q: %v, want ErrUnsafeWord", e, err)
		}
	}
}

// TestReplaceMapIntegration replaces a map_beg map through the runtime API
// on every HAProxy under test: requests follow the new entries at once, in
// their order (first match wins), show map reads them back, and an unsafe
// entry sends nothing.
func TestReplaceMapIntegration(t *testing.T) {
	forEachBinary(t, func(t *testing.T, bin haproxyBin) {
		dir := t.TempDir()
		pa, pb := namedServer(t, "A"), namedServer(t, "B")
		fe := testbin.FreePort(t)
		mapPath := filepath.Join(dir, "routes.map")
		if err := os.WriteFile(mapPath, []byte("/ be_a\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(dir, "haproxy.cfg")
		text := fmt.Sprintf(`global
    stats socket %s/admin.sock level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    use_backend %%[path,map_beg(%s)]
backend be_a
    server s 127.0.0.1:%d
backend be_b
    server s 127.0.0.1:%d
`, dir, fe, mapPath, pa, pb)
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := RuntimeMaps([]byte(text), []string{mapPath}); len(got) != 1 {
			t.Fatalf("RuntimeMaps = %q", got)
		}
		startHAProxy(t, bin, dir, cfg)
		rt := &Runtime{Path: filepath.Join(dir, "admin.sock")}
		waitRuntime(t, rt)
		getPath := func(path string) string {
			c := &http.Client{Timeout: 2 * time.Second}
			resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", fe, path))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		if got, err := rt.ShowMap(t.Context(), mapPath); err != nil || !slices.Equal(got, []MapEntry{{"/", "be_a"}}) {
			t.Fatalf("show map = %q, %v", got, err)
		}
		// Longest first: /b/x goes to B, the rest of /b to A.
		want := []MapEntry{{"/b/x", "be_b"}, {"/b", "be_a"}, {"/", "be_b"}}
		for i := range 1500 { // several payloads
			want = append(want, MapEntry{fmt.Sprintf("/z/%04d", i), "be_a"})
		}
		if err := rt.ReplaceMap(t.Context(), mapPath, want); err != nil {
			t.Fatal(err)
		}
		got, err := rt.ShowMap(t.Context(), mapPath)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("show map after replace: %d entries, %v; want %d in order", len(got), err, len(want))
		}
		for path, who := range map[string]string{"/b/x/1": "B", "/b/y": "A", "/c": "B"} {
			if ans := getPath(path); ans != who {
				t.Errorf("GET %s answered %q, want %q", path, ans, who)
			}
		}
		// Unsafe: nothing is sent, the map stays.
		err = rt.ReplaceMap(t.Context(), mapPath, []MapEntry{{"/a", "be_a"}, {"/b", "be_b;clear map " + mapPath}})
		if !errors.Is(err, ErrUnsafeWord) {
			t.Fatalf("unsafe entry: %v", err)
		}
		if got, _ := rt.ShowMap(t.Context(), mapPath); len(got) != len(want) {
			t.Fatalf("an unsafe replace changed the map: %d entries", len(got))
		}
		// Emptied atomically.
		if err := rt.ReplaceMap(t.Context(), mapPath, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := rt.ShowMap(t.Context(), mapPath); err != nil || len(got) != 0 {
			t.Fatalf("emptied map: %q, %v", got, err)
		}
		other := filepath.Join(dir, "other.map")
		if _, err := rt.ShowMap(t.Context(), other); !errors.Is(err, ErrUnknownMap) {
			t.Fatalf("show map of a map not loaded: %v", err)
		}
		if err := rt.ReplaceMap(t.Context(), other, want[:1]); !errors.Is(err, ErrUnknownMap) {
			t.Fatalf("replace of a map not loaded: %v", err)
		}
	})
}

// FuzzParseMap: any map file parses without panic; when ParseMap says the
// runtime API can carry it, its entries written back one a line parse to
// the same entries, and each one passes CheckMapEntry.
func FuzzParseMap(f *testing.F) {
	for _, s := range []string{"/a be\n", "# c\n  k\tv  \r\n", "k v;x\n", "\x00k v", "#\n\n\t\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, ok := ParseMap(data)
		if !ok {
			return
		}
		var b strings.Builder
		for _, e := range entries {
			if err := CheckMapEntry(e); err != nil {
				t.Fatalf("ok map with unsafe entry %q: %v", e, err)
			}
			b.WriteString(e.String() + "\n")
		}
		back, ok2 := ParseMap([]byte(b.String()))
		if !ok2 || !slices.Equal(back, entries) {
			t.Fatalf("round trip: %q -> %q", entries, back)
		}
	})
}
