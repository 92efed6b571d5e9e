package haproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/harender/harender/internal/testbin"
)

// TestRuntimeBackendsIntegration, on every HAProxy with runtime backends,
// through the admin socket and through the master CLI: a backend built
// from the planned BackendAdd serves once a map entry routes to it; while
// a request is in flight its deletion reports busy and the request is
// served; then it is deleted, and show backend no longer lists it.
func TestRuntimeBackendsIntegration(t *testing.T) {
	forEachBinary(t, func(t *testing.T, bin haproxyBin) {
		v := Version{Major: bin.Major, Minor: bin.Minor}
		if !v.Has(FeatureRuntimeBackends) {
			t.Skipf("HAProxy %s has no runtime backends", bin.Version)
		}
		dir := t.TempDir()
		release, arrived := make(chan struct{}), make(chan struct{}, 1)
		slow := slowServer(t, "B", release, arrived)
		fe := testbin.FreePort(t)
		mapPath := filepath.Join(dir, "routes.map")
		if err := os.WriteFile(mapPath, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		base := fmt.Sprintf(`global
    stats socket %s/admin.sock level admin
defaults base
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:%d
    use_backend %%[path,map_beg(%s,none)]
backend none
    http-request return status 404
defaults routed
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    balance roundrobin
`, dir, fe, mapPath)
		cfg := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(cfg, []byte(base), 0o644); err != nil {
			t.Fatal(err)
		}
		_, master := startHAProxy(t, bin, dir, cfg)
		for _, rt := range []*Runtime{{Path: filepath.Join(dir, "admin.sock")}, {Path: master.Path, Prefix: "@1 "}} {
			waitRuntime(t, rt)
			with := base + fmt.Sprintf("backend b\n    server s1 127.0.0.1:%d\n", slow)
			ch := PlanWith(mustParse(t, base), mustParse(t, with), PlanOptions{RuntimeBackends: true})
			if ch.Reload || len(ch.AddBackends) != 1 {
				t.Fatalf("plan: %+v", ch)
			}
			if err := rt.AddBackend(t.Context(), ch.AddBackends[0]); err != nil {
				t.Fatalf("%s: %v", rt.Path, err)
			}
			if got, err := rt.ShowBackends(t.Context()); err != nil || !slices.Equal(got, []string{"none", "b"}) {
				t.Fatalf("show backend = %q, %v", got, err)
			}
			if _, err := rt.Command(t.Context(), "add map "+mapPath+" /b b"); err != nil {
				t.Fatal(err)
			}
			done := make(chan string, 1)
			go func() { done <- bodyOf(fe, "/b/slow") }()
			select { // the request reaches B and waits
			case <-arrived:
			case <-time.After(10 * time.Second):
				t.Fatal("the request never reached B")
			}
			if _, err := rt.Command(t.Context(), "del map "+mapPath+" /b"); err != nil {
				t.Fatal(err)
			}
			err := rt.DelBackend(t.Context(), "b")
			if !errors.Is(err, ErrServerBusy) && !errors.Is(err, ErrBackendBusy) {
				t.Fatalf("del backend with a request in flight: %v, want busy", err)
			}
			release <- struct{}{}
			if got := <-done; got != "B" {
				t.Errorf("the request in flight got %q, want B's answer", got)
			}
			deadline := time.Now().Add(5 * time.Second)
			for err = rt.DelBackend(t.Context(), "b"); err != nil && time.Now().Before(deadline); err = rt.DelBackend(t.Context(), "b") {
				t.Logf("del backend: %v", err)
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("del backend once idle: %v", err)
			}
			if got, err := rt.ShowBackends(t.Context()); err != nil || !slices.Equal(got, []string{"none"}) {
				t.Fatalf("show backend after del = %q, %v", got, err)
			}
			if got := bodyOf(fe, "/b/x"); got != "" {
				t.Errorf("after del, /b/x answered %q, want the 404 of backend none", got)
			}
		}
	})
}

// slowServer answers name once release receives, for any path but /x.
func slowServer(t *testing.T, name string, release <-chan struct{}, arrived chan<- struct{}) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-time.After(8 * time.Second):
		}
		io.WriteString(w, name)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// bodyOf is the body of GET path on 127.0.0.1:port, "" for a non-200.
func bodyOf(port int, path string) string {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
