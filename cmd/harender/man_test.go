package main

import (
	"strings"
	"testing"
)

// The man page that make deb ships: section 1, every visible command, and
// descriptions not broken at --help's indentation.
func TestManPage(t *testing.T) {
	code, out, stderr := harender(t, "man")
	if code != exitOK {
		t.Fatalf("harender man: exit %d\n%s", code, stderr)
	}
	if !strings.HasPrefix(out, ".nh\n.TH harender 1") {
		t.Errorf("not a section 1 man page:\n%.200s", out)
	}
	for _, want := range []string{".SH render", ".SH check", ".SH run", "--config", "Exit codes: 0 ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	if strings.Contains(out, ".SH man") {
		t.Error("the hidden man command is in the man page")
	}
	if strings.Contains(out, "\n   CONSUL_HTTP_TOKEN,") {
		t.Error("description kept --help's indent, which troff breaks on")
	}
}
