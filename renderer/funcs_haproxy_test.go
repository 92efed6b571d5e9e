package renderer

import (
	"regexp"
	"strings"
	"testing"
)

func TestHAProxyGUID(t *testing.T) {
	valid := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,127}$`)
	long := strings.Repeat("a", 128)
	for _, c := range []struct {
		kind  string
		parts []string
		want  string // "" means: hashed form
	}{
		{"be", []string{"api"}, "be:api"},
		{"srv", []string{"api", "gw-1"}, "srv:api:gw-1"},
		{"srv", []string{"api", "10.0.0.1_8080"}, "srv:api:10.0.0.1_8080"},
		{"srv", []string{"api", "a:b"}, ""},
		{"srv", []string{"api", ""}, ""},
		{"srv", []string{"api", "a b"}, ""},
		{"srv", []string{"api", long}, ""},
	} {
		got, err := haproxyGUID(c.kind, c.parts...)
		if err != nil {
			t.Fatalf("haproxyGUID(%q, %q): %v", c.kind, c.parts, err)
		}
		if !valid.MatchString(got) {
			t.Errorf("haproxyGUID(%q, %q) = %q: not a valid HAProxy guid", c.kind, c.parts, got)
		}
		if c.want != "" && got != c.want {
			t.Errorf("haproxyGUID(%q, %q) = %q, want %q", c.kind, c.parts, got, c.want)
		}
		if c.want == "" && !strings.HasPrefix(got, c.kind+"::") {
			t.Errorf("haproxyGUID(%q, %q) = %q, want the hashed form %s::...", c.kind, c.parts, got, c.kind)
		}
		again, _ := haproxyGUID(c.kind, c.parts...)
		if again != got {
			t.Errorf("not stable: %q then %q", got, again)
		}
	}
	// Parts that would read the same once joined stay apart.
	seen := map[string][]string{}
	for _, p := range [][]string{{"a:b", "c"}, {"a", "b:c"}, {"a", "b", "c"}, {"a:b:c"}, {"a", "b_c"}, {"a_b", "c"}} {
		g, _ := haproxyGUID("srv", p...)
		if prev, ok := seen[g]; ok {
			t.Errorf("%q and %q both give %q", prev, p, g)
		}
		seen[g] = p
	}
	for _, kind := range []string{"", "a:b", strings.Repeat("k", 17)} {
		if _, err := haproxyGUID(kind, "x"); err == nil {
			t.Errorf("kind %q: want an error", kind)
		}
	}
	if _, err := haproxyGUID("be"); err == nil {
		t.Error("no parts: want an error")
	}
}

func TestHAProxyVersionFuncs(t *testing.T) {
	text := `{{ haproxyVersion }} {{ if haproxyHas "guid" }}guid{{ else }}none{{ end }}`
	for _, c := range []struct {
		info HAProxyInfo
		want string
	}{
		{HAProxyInfo{Version: "3.4.0", Features: map[string]bool{"guid": true, "shm-stats-file": true}}, "3.4.0 guid"},
		{HAProxyInfo{Version: "2.6.12", Features: map[string]bool{"guid": false}}, "2.6.12 none"},
		{HAProxyInfo{}, " none"},
	} {
		tm, err := Parse("v.tmpl", text, Options{HAProxy: c.info})
		if err != nil {
			t.Fatal(err)
		}
		res, err := tm.Execute(nil)
		if err != nil || string(res.Output) != c.want {
			t.Errorf("%+v: got %q, %v; want %q", c.info, res.Output, err, c.want)
		}
	}
	// A misspelt feature is an error where the known features are given.
	tm, err := Parse("typo.tmpl", `{{ haproxyHas "shm-stat-file" }}`, Options{HAProxy: HAProxyInfo{Features: map[string]bool{"shm-stats-file": true}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Execute(nil); err == nil || !strings.Contains(err.Error(), `unknown feature "shm-stat-file"`) {
		t.Errorf("misspelt feature: got %v", err)
	}
}
