package watch

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
	"github.com/hashicorp/consul/api"
)

const testToken = "9f1c2b7e-token-never-print"

// tokenServer records the X-Consul-Token of each request.
func tokenServer(t *testing.T) (addr string, tokens func() []string) {
	t.Helper()
	var (
		mu  sync.Mutex
		got []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("X-Consul-Token"))
		mu.Unlock()
		w.Header().Set("X-Consul-Index", "1")
		w.Write([]byte(`["dc1"]`))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

func clearConsulEnv(t *testing.T) {
	for _, k := range []string{"CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE",
		"CONSUL_HTTP_SSL", "CONSUL_HTTP_SSL_VERIFY", "CONSUL_CACERT", "CONSUL_CAPATH",
		"CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY", "CONSUL_TLS_SERVER_NAME", "CONSUL_HTTP_AUTH"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

func TestNewClientEnvironmentAndOverrides(t *testing.T) {
	clearConsulEnv(t)
	envAddr, envTokens := tokenServer(t)
	explicitAddr, explicitTokens := tokenServer(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONSUL_HTTP_ADDR", envAddr)
	t.Setenv("CONSUL_HTTP_TOKEN", "from-env")

	tests := []struct {
		name      string
		cfg       ClientConfig
		tokens    func() []string
		wantToken string
	}{
		{"environment only", ClientConfig{}, envTokens, "from-env"},
		{"explicit address and token", ClientConfig{Address: explicitAddr, Token: "explicit"}, explicitTokens, "explicit"},
		{"explicit token file wins", ClientConfig{Address: explicitAddr, Token: "explicit", TokenFile: tokenFile}, explicitTokens, "from-file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			before := len(tc.tokens())
			q, _ := NewCatalogDatacentersQuery(false)
			if _, _, err := q.Fetch(t.Context(), c, &api.QueryOptions{}); err != nil {
				t.Fatal(err)
			}
			got := tc.tokens()
			if len(got) != before+1 || got[len(got)-1] != tc.wantToken {
				t.Errorf("tokens seen %q, want last %q", got, tc.wantToken)
			}
		})
	}

	t.Run("token file from the environment", func(t *testing.T) {
		t.Setenv("CONSUL_HTTP_TOKEN_FILE", tokenFile)
		c, err := NewClient(ClientConfig{})
		if err != nil {
			t.Fatal(err)
		}
		q, _ := NewCatalogDatacentersQuery(false)
		if _, _, err := q.Fetch(t.Context(), c, nil); err != nil {
			t.Fatal(err)
		}
		if got := envTokens(); got[len(got)-1] != "from-file" {
			t.Errorf("token %q, want from-file", got[len(got)-1])
		}
	})
}

func TestNewClientBadTokenFile(t *testing.T) {
	clearConsulEnv(t)
	_, err := NewClient(ClientConfig{Token: testToken, TokenFile: filepath.Join(t.TempDir(), "absent")})
	if err == nil {
		t.Fatal("no error for a missing token file")
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error leaks the token: %v", err)
	}
}

// An unreachable Consul with a token set: neither the query error nor the
// Watcher's log may contain the token.
func TestTokenNeverInErrorsOrLogs(t *testing.T) {
	clearConsulEnv(t)
	t.Setenv("CONSUL_HTTP_TOKEN", testToken+"-env")
	c, err := NewClient(ClientConfig{Address: "127.0.0.1:1", Token: testToken})
	if err != nil {
		t.Fatal(err)
	}

	var deps []Dependency
	for _, mk := range []func() (parsed, error){
		func() (parsed, error) { return nilSafe(NewHealthServiceQuery("v1.web@dc1~n1|any")) },
		func() (parsed, error) { return nilSafe(NewKVGetQuery("app/config?ns=x@dc1")) },
		func() (parsed, error) { return nilSafe(NewKVListQuery("app")) },
		func() (parsed, error) { return nilSafe(NewKVKeysQuery("app")) },
		func() (parsed, error) { return nilSafe(NewCatalogServicesQuery("")) },
		func() (parsed, error) { return nilSafe(NewCatalogServiceQuery("web")) },
		func() (parsed, error) { return nilSafe(NewCatalogNodeQuery("")) },
		func() (parsed, error) { return nilSafe(NewCatalogNodesQuery("")) },
	} {
		d, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		deps = append(deps, d)
	}
	dcs, _ := NewCatalogDatacentersQuery(true)
	deps = append(deps, dcs)

	for _, d := range deps {
		_, _, err := d.Fetch(t.Context(), c, &api.QueryOptions{WaitIndex: 0, WaitTime: time.Second, AllowStale: true})
		if err == nil {
			t.Fatalf("%s: no error from an unreachable address", d)
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("%s: error leaks the token: %v", d, err)
		}
		if !strings.Contains(err.Error(), d.String()) {
			t.Errorf("%s: error does not name the dependency: %v", d, err)
		}
	}

	logs := &testenv.LockedBuffer{}
	w := New(c, Options{
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
	})
	w.Watch(t.Context(), deps)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(logs.String(), "level=WARN") < 3*len(deps) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	w.Stop()
	if strings.Count(logs.String(), "level=WARN") < len(deps) {
		t.Fatalf("too few warnings:\n%s", logs)
	}
	if strings.Contains(logs.String(), testToken) {
		t.Errorf("log leaks the token:\n%s", logs)
	}
}

func TestRedact(t *testing.T) {
	base := errors.New("get http://x/?token=abc: refused")
	err := redact(base, "", "abc")
	if got := err.Error(); got != "get http://x/?token=[redacted]: refused" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(err, base) {
		t.Error("redacted error does not unwrap")
	}
	if redact(base, "zzz") != base {
		t.Error("error without the secret was wrapped")
	}
	if redact(nil, "abc") != nil {
		t.Error("nil error became non-nil")
	}
}
