package haproxy

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const planBase = `global
    stats socket /tmp/admin.sock level admin

defaults
    mode http
    default-server inter 1s

frontend www
    bind :8080
    default_backend gateway

backend gateway
    balance roundrobin
    default-server rise 2
    server gw-1 10.0.0.1:8080 weight 10 check
    server gw-2 10.0.0.2:8080 check
    server gw-3 10.0.0.3 weight 5 disabled check

backend other
    server o-1 10.0.1.1:80
`

func TestPlan(t *testing.T) {
	tests := []struct {
		name    string
		old     string // replaced in planBase by new
		new     string
		old2    string // a second replacement, optional
		new2    string
		reload  string // substring of Reason; "" means no reload
		updates []ServerUpdate
		adds    []ServerAdd
		dels    []ServerDel
	}{
		{name: "identical"},
		{name: "comment and blank lines only", old: "    balance roundrobin\n", new: "    # hello\n\n    balance roundrobin # rr\n"},
		{
			name: "address change", old: "10.0.0.2:8080", new: "10.0.0.22:9090",
			updates: []ServerUpdate{{Backend: "gateway", Server: "gw-2", Addr: "10.0.0.22", Port: 9090, Weight: -1, State: "ready", AddrChanged: true}},
		},
		{
			name: "address without port", old: "10.0.0.3 weight", new: "fd00::3: weight",
			updates: []ServerUpdate{{Backend: "gateway", Server: "gw-3", Addr: "fd00::3", Weight: 5, State: "maint", AddrChanged: true}},
		},
		{
			name: "weight change", old: "weight 10", new: "weight 20",
			updates: []ServerUpdate{{Backend: "gateway", Server: "gw-1", Addr: "10.0.0.1", Port: 8080, Weight: 20, State: "ready", WeightChanged: true}},
		},
		{
			name: "enable", old: "weight 5 disabled check", new: "weight 5 check",
			updates: []ServerUpdate{{Backend: "gateway", Server: "gw-3", Addr: "10.0.0.3", Weight: 5, State: "ready", StateChanged: true}},
		},
		{
			name: "disable and move, two backends", old: "gw-2 10.0.0.2:8080 check\n", new: "gw-2 10.0.0.2:8080 disabled check\n",
			updates: []ServerUpdate{{Backend: "gateway", Server: "gw-2", Addr: "10.0.0.2", Port: 8080, Weight: -1, State: "maint", StateChanged: true}},
		},
		{
			name: "server added", old: "    server gw-3", new: "    server gw-4 10.0.0.4:8080 weight 3 check\n    server gw-3",
			adds: []ServerAdd{{Backend: "gateway", Server: "gw-4", Address: "10.0.0.4:8080", Args: []string{"inter", "1s", "rise", "2", "check", "weight", "3"}, Check: true}},
		},
		{
			name: "server removed", old: "    server gw-2 10.0.0.2:8080 check\n", new: "",
			dels: []ServerDel{{Backend: "gateway", Server: "gw-2"}},
		},
		{
			name: "server renamed and another moved", old: "gw-2 10.0.0.2:8080", new: "gw-9 10.0.0.2:8080", old2: "10.0.0.1:8080", new2: "10.0.0.11:8080",
			adds:    []ServerAdd{{Backend: "gateway", Server: "gw-9", Address: "10.0.0.2:8080", Args: []string{"inter", "1s", "rise", "2", "check"}, Check: true}},
			dels:    []ServerDel{{Backend: "gateway", Server: "gw-2"}},
			updates: []ServerUpdate{{Backend: "gateway", Server: "gw-1", Addr: "10.0.0.11", Port: 8080, Weight: 10, State: "ready", AddrChanged: true}},
		},
		{name: "server added to static-rr", old: "backend other\n", new: "backend other\n    balance static-rr\n", old2: "    server o-1", new2: "    server o-0 10.0.1.9:80\n    server o-1", reload: "backend other: line"},
		{name: "server added with track", old: "    server gw-3", new: "    server gw-4 10.0.0.4:8080 track other/o-1\n    server gw-3", reload: "server gw-4 added: option track needs a reload"},
		{name: "server added without port", old: "    server gw-3", new: "    server gw-4 10.0.0.4\n    server gw-3", reload: "server gw-4 added: no plain port"},
		{name: "kept servers reordered", old: "    server gw-1 10.0.0.1:8080 weight 10 check\n    server gw-2 10.0.0.2:8080 check\n", new: "    server gw-2 10.0.0.2:8080 check\n    server gw-5 10.0.0.5:8080\n    server gw-1 10.0.0.1:8080 weight 10 check\n", reload: "servers reordered"},
		{name: "servers reordered", old: "    server gw-1 10.0.0.1:8080 weight 10 check\n    server gw-2 10.0.0.2:8080 check\n", new: "    server gw-2 10.0.0.2:8080 check\n    server gw-1 10.0.0.1:8080 weight 10 check\n", reload: "servers reordered"},
		{name: "server option changed", old: "10.0.0.2:8080 check", new: "10.0.0.2:8080 check inter 2s", reload: "server gw-2: options changed"},
		{name: "hostname address", old: "10.0.0.2:8080", new: "gw2.consul:8080", reload: "server gw-2: address gw2.consul:8080 is not an IP address"},
		{name: "port removed", old: "10.0.0.2:8080", new: "10.0.0.9", reload: "port added or removed"},
		{name: "weight removed", old: "weight 10 ", new: "", reload: "weight added or removed"},
		{name: "weight too big", old: "weight 10", new: "weight 300", reload: "out of runtime range"},
		{name: "other line changed", old: "balance roundrobin", new: "balance leastconn", reload: `backend gateway: line 13 changed: "balance leastconn"`},
		{name: "line added", old: "    mode http\n", new: "    mode http\n    timeout client 1s\n", reload: `defaults: line 6 added: "timeout client 1s"`},
		{name: "line removed", old: "    bind :8080\n", new: "", reload: `frontend www: line removed: "bind :8080"`},
		{name: "section added", old: "backend other", new: "backend extra\n    server e 1.1.1.1:80\nbackend other", reload: "backend extra: section added"},
		{name: "section removed", old: "backend other\n    server o-1 10.0.1.1:80\n", new: "", reload: "backend other: section removed"},
		{name: "section renamed header", old: "frontend www", new: "frontend www2", reload: "frontend www2: section added"},
		{name: "header options", old: "defaults\n", new: "defaults  \n", reload: ""},
		{name: "header changed", old: "backend other", new: "backend other from x", reload: `backend other: header changed`},
		{name: "sections reordered", old: "defaults\n    mode http\n    default-server inter 1s\n\nfrontend www\n    bind :8080\n    default_backend gateway\n", new: "frontend www\n    bind :8080\n    default_backend gateway\n\ndefaults\n    mode http\n    default-server inter 1s\n", reload: "sections reordered"},
		{name: "peer server lines are plain", old: "backend other", new: "peers p\n    server x 1.1.1.1:1\nbackend other", reload: "peers p: section added"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newText := planBase
			if tt.old != "" {
				if !strings.Contains(planBase, tt.old) {
					t.Fatalf("%q not in base", tt.old)
				}
				newText = strings.Replace(planBase, tt.old, tt.new, 1)
			}
			if tt.old2 != "" {
				newText = strings.Replace(newText, tt.old2, tt.new2, 1)
			}
			oldCfg := mustParse(t, planBase)
			newCfg := mustParse(t, newText)
			ch := Plan(oldCfg, newCfg)
			if tt.reload != "" {
				if !ch.Reload || !strings.Contains(ch.Reason, tt.reload) || len(ch.Servers)+len(ch.Adds)+len(ch.Deletes) != 0 {
					t.Fatalf("Plan = %+v, want reload with %q", ch, tt.reload)
				}
				return
			}
			if ch.Reload {
				t.Fatalf("unexpected reload: %s", ch.Reason)
			}
			if !reflect.DeepEqual(ch.Servers, tt.updates) {
				t.Errorf("updates = %+v\nwant      %+v", ch.Servers, tt.updates)
			}
			if !reflect.DeepEqual(ch.Adds, tt.adds) || !reflect.DeepEqual(ch.Deletes, tt.dels) {
				t.Errorf("adds = %+v, deletes = %+v\nwant   %+v, %+v", ch.Adds, ch.Deletes, tt.adds, tt.dels)
			}
		})
	}
}

func TestPlanNil(t *testing.T) {
	if ch := Plan(nil, mustParse(t, planBase)); !ch.Reload || ch.Reason == "" {
		t.Fatalf("Plan(nil, c) = %+v", ch)
	}
}

func mustParse(t *testing.T, s string) *Config {
	t.Helper()
	c, err := ParseConfig([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// BenchmarkPlan10k plans one server added to a backend of 10,000, as
// every converge does (reloadReason) on a large catalog.
func BenchmarkPlan10k(b *testing.B) {
	var old, new strings.Builder
	old.WriteString("defaults\n    mode http\nbackend be\n    balance roundrobin\n")
	for i := range 10000 {
		fmt.Fprintf(&old, "    server s%d 10.0.%d.%d:80 check\n", i, i/250, i%250)
	}
	new.WriteString(old.String())
	new.WriteString("    server s10000 10.1.0.1:80 check\n")
	oc, err1 := ParseConfig([]byte(old.String()))
	nc, err2 := ParseConfig([]byte(new.String()))
	if err1 != nil || err2 != nil {
		b.Fatal(err1, err2)
	}
	for b.Loop() {
		if ch := Plan(oc, nc); ch.Reload || len(ch.Adds) != 1 {
			b.Fatalf("plan = %+v", ch)
		}
	}
}
