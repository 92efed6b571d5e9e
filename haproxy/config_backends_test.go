package haproxy

import (
	"slices"
	"strings"
	"testing"
)

const backendsBase = `global
    stats socket /run/admin.sock level admin
defaults base
    mode http
frontend fe
    bind :80
    use_backend %[path,map_beg(/etc/routes.map,none)]
backend none
    http-request return status 404
defaults routed
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    balance roundrobin
    default-server inter 1s
backend a
    server a1 10.0.0.1:80 check
`

// TestPlanRuntimeBackends: with runtime backends, a backend that takes
// everything from a named defaults section is added and deleted with no
// reload; anything else still reloads, and without the option every
// added or removed section reloads as before.
func TestPlanRuntimeBackends(t *testing.T) {
	on := PlanOptions{RuntimeBackends: true}
	plan := func(oldText, newText string, o PlanOptions) Change {
		return PlanWith(mustParse(t, oldText), mustParse(t, newText), o)
	}
	added := backendsBase + "backend b\n    guid be-b\n    server b1 10.0.0.2:80 check weight 5\n"
	ch := plan(backendsBase, added, on)
	if ch.Reload || len(ch.AddBackends) != 1 {
		t.Fatalf("backend added: %+v", ch)
	}
	b := ch.AddBackends[0]
	if b.Name != "b" || b.From != "routed" || b.GUID != "be-b" || len(b.Servers) != 1 {
		t.Fatalf("add = %+v", b)
	}
	if got := addServerCommand(b.Servers[0]); got != "add server b/b1 10.0.0.2:80 inter 1s check weight 5" {
		t.Errorf("its server: %q (default-server options must be spelled out)", got)
	}
	if ch := plan(added, backendsBase, on); ch.Reload || !slices.Equal(ch.DelBackends, []string{"b"}) {
		t.Errorf("backend removed: %+v", ch)
	}
	if ch := plan(backendsBase, added, PlanOptions{}); !ch.Reload || !strings.Contains(ch.Reason, "backend b: section added") {
		t.Errorf("without runtime backends: %+v", ch)
	}
	for name, text := range map[string]string{
		"an own setting":   backendsBase + "backend b\n    balance source\n    server b1 10.0.0.2:80\n",
		"a frontend":       backendsBase + "frontend f2\n    bind :81\n",
		"a listen":         backendsBase + "listen l\n    bind :82\n",
		"unnamed defaults": backendsBase + "defaults\n    mode http\nbackend b\n    server b1 10.0.0.2:80\n",
		"no mode":          backendsBase + "defaults d2 from routed\n    balance roundrobin\nbackend b\n    server b1 10.0.0.2:80\n",
		"a static balance": strings.Replace(backendsBase, "balance roundrobin", "balance source", 1) + "backend b\n    server b1 10.0.0.2:80\n",
		"a backup server":  backendsBase + "backend b\n    server b1 10.0.0.2:80 backup\n",
		"a header option":  backendsBase + "backend b from routed foo\n    server b1 10.0.0.2:80\n",
		"an unsafe guid":   backendsBase + "backend b\n    guid 'x;y'\n    server b1 10.0.0.2:80\n",
	} {
		if ch := plan(backendsBase, text, on); !ch.Reload {
			t.Errorf("%s: planned at runtime: %+v", name, ch)
		}
	}
	// A backend added between two others, with another change: the rest
	// is still compared section by section.
	moved := strings.Replace(added, "10.0.0.1:80", "10.0.0.9:80", 1)
	if ch := plan(backendsBase, moved, on); ch.Reload || len(ch.Servers) != 1 || len(ch.AddBackends) != 1 {
		t.Errorf("backend added and a server moved: %+v", ch)
	}
	if ch := plan(backendsBase, strings.Replace(added, "bind :80", "bind :81", 1), on); !ch.Reload {
		t.Errorf("backend added and the frontend changed: %+v", ch)
	}
}
