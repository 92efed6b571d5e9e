package watch

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// fetchToken runs one query through c and returns the token the server
// saw, or the query's error.
func fetchToken(t *testing.T, c *api.Client, tokens func() []string, q *api.QueryOptions) (string, error) {
	t.Helper()
	before := len(tokens())
	var out []string
	if _, err := c.Raw().Query("/v1/catalog/datacenters", &out, q.WithContext(t.Context())); err != nil {
		return "", err
	}
	got := tokens()
	if len(got) != before+1 {
		t.Fatalf("%d requests reached the server, want 1", len(got)-before)
	}
	return got[len(got)-1], nil
}

// TestTokenFileRotation rotates the token file the ways operators do, and
// checks the next request carries the token the file holds.
func TestTokenFileRotation(t *testing.T) {
	clearConsulEnv(t)
	addr, tokens := tokenServer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("11111111-aaaa-4000-8000-000000000001\n")
	c, err := NewClient(ClientConfig{Address: addr, TokenFile: path, Token: "static-loses"})
	if err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name   string
		rotate func()
		want   string
	}{
		{"first read", func() {}, "11111111-aaaa-4000-8000-000000000001"},
		// Same length, rewritten at once: the stamp may not move.
		{"rewritten in place", func() { write("22222222-bbbb-4000-8000-000000000002") }, "22222222-bbbb-4000-8000-000000000002"},
		{"renamed over", func() {
			tmp := filepath.Join(dir, "token.new")
			if err := os.WriteFile(tmp, []byte("33333333-cccc-4000-8000-000000000003"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}, "33333333-cccc-4000-8000-000000000003"},
		// Truncated mid-rewrite: the last token stands until it is whole.
		{"emptied", func() { write("") }, "33333333-cccc-4000-8000-000000000003"},
		{"written again", func() { write("  44444444-dddd-4000-8000-000000000004 \n") }, "44444444-dddd-4000-8000-000000000004"},
	}
	for _, s := range steps {
		s.rotate()
		got, err := fetchToken(t, c, tokens, &api.QueryOptions{})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got != s.want {
			t.Errorf("%s: token %q, want %q", s.name, got, s.want)
		}
	}

	// A token given for one query is that query's.
	if got, err := fetchToken(t, c, tokens, &api.QueryOptions{Token: "per-query"}); err != nil || got != "per-query" {
		t.Errorf("per-query token: got %q, %v", got, err)
	}

	// A file gone fails the request, naming the path and no token.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	d, _ := NewCatalogDatacentersQuery(false)
	_, _, err = d.Fetch(t.Context(), c, nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("fetch with the token file gone: %v, want a not-exist error naming %s", err, path)
	}
	if err != nil && strings.Contains(err.Error(), "4444") {
		t.Errorf("error leaks the token: %v", err)
	}
}

// An old file whose stamp is unchanged is not read again: one stat per
// request is the cost of rotation.
func TestTokenFileStampCaches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	old := time.Now().Add(-time.Hour)
	put := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
	}
	put("first")
	f, err := newTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	put("other") // same inode, size and time: invisible to the stamp
	if got, _ := f.current(); got != "first" {
		t.Errorf("unchanged stamp: token %q, want the cached %q", got, "first")
	}
	put("longer") // the size moved
	if got, _ := f.current(); got != "longer" {
		t.Errorf("new size: token %q, want %q", got, "longer")
	}
	if _, err := newTokenFile(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// The file named by CONSUL_HTTP_TOKEN_FILE rotates too, and over a unix
// socket, where api would otherwise use a client of its own.
func TestTokenFileRotationEnvUnixSocket(t *testing.T) {
	clearConsulEnv(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "consul.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get(tokenHeader)
		w.Header().Set("X-Consul-Index", "1")
		w.Write([]byte(`["dc1"]`))
	}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	path := filepath.Join(dir, "token")
	os.WriteFile(path, []byte("env-1"), 0o600)
	t.Setenv("CONSUL_HTTP_TOKEN_FILE", path)
	c, err := NewClient(ClientConfig{Address: "unix://" + sock})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := NewCatalogDatacentersQuery(false)
	for _, want := range []string{"env-1", "env-22"} {
		os.WriteFile(path, []byte(want), 0o600)
		if _, _, err := d.Fetch(t.Context(), c, nil); err != nil {
			t.Fatal(err)
		}
		if got := <-seen; got != want {
			t.Errorf("token %q, want %q", got, want)
		}
	}
}
