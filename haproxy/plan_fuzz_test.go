package haproxy

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Property tests of the planner and of reconciliation: the changes they
// return, applied to a model of HAProxy, must give what the config says.

// modelServer is what the planner's changes can tell about one server.
type modelServer struct {
	Address  string // as written, until a runtime change sets Addr and Port
	Addr     string
	Port     int
	Weight   int
	Disabled bool
	Rest     []string
	Moved    bool // Addr and Port were set at runtime
}

// modelOf returns the servers of c's backend and listen sections by
// backend and name, or nil when two proxies share a name: HAProxy refuses
// such a config, and the changes, which name backends, are ambiguous.
func modelOf(c *Config) map[string]map[string]modelServer {
	m := map[string]map[string]modelServer{}
	for _, sec := range c.Sections {
		if !hasServers(sec.Kind) {
			continue
		}
		if _, dup := m[sec.Name]; dup {
			return nil
		}
		m[sec.Name] = map[string]modelServer{}
		for _, s := range sec.Servers {
			m[sec.Name][s.Name] = modelServer{Address: s.Address, Addr: s.Addr, Port: s.Port, Weight: s.Weight, Disabled: s.Disabled, Rest: s.Rest}
		}
	}
	return m
}

// planPairs are old and new configs from the planner's table test.
func planPairs() [][2]string {
	r := strings.NewReplacer
	return [][2]string{
		{planBase, planBase},
		{planBase, r("10.0.0.2:8080", "10.0.0.22:9090").Replace(planBase)},
		{planBase, r("10.0.0.3 weight", "fd00::3: weight").Replace(planBase)},
		{planBase, r("weight 10", "weight 20", "weight 5 disabled", "weight 5").Replace(planBase)},
		{planBase, r("    server gw-3", "    server gw-4 10.0.0.4:8080 weight 3 check\n    server gw-3").Replace(planBase)},
		{planBase, r("    server gw-2 10.0.0.2:8080 check\n", "").Replace(planBase)},
		{planBase, r("gw-2 10.0.0.2:8080", "gw-9 10.0.0.2:8080", "10.0.0.1:8080", "10.0.0.11:8080").Replace(planBase)},
		{planBase, r("backend other\n", "backend other\n    balance static-rr\n").Replace(planBase)},
		{planBase, r("gw-1 10.0.0.1:8080", "gw-1 [::1]:8080 disabled").Replace(planBase)},
		{"listen l\n server a 1.1.1.1:1\n server b 2.2.2.2:2 weight 3\n", "listen l\n server b 2.2.2.2:3 weight 4\n server c 3.3.3.3:3 disabled\n"},
	}
}

func FuzzPlan(f *testing.F) {
	for _, p := range planPairs() {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, oldText, newText string) {
		old, err1 := ParseConfig([]byte(oldText))
		new, err2 := ParseConfig([]byte(newText))
		if err1 != nil || err2 != nil {
			return
		}
		ch := Plan(old, new)
		if ch.Reload {
			if ch.Reason == "" || ch.Servers != nil || ch.Adds != nil || ch.Deletes != nil {
				t.Fatalf("reload with %+v", ch)
			}
			return
		}
		if ch.Reason != "" {
			t.Fatalf("no reload, reason %q", ch.Reason)
		}
		// Everything but the servers is the same.
		if len(old.Sections) != len(new.Sections) {
			t.Fatalf("no reload, %d sections then %d", len(old.Sections), len(new.Sections))
		}
		for i, ns := range new.Sections {
			osec := old.Sections[i]
			if osec.Kind != ns.Kind || osec.Name != ns.Name || osec.Header != ns.Header ||
				!slices.EqualFunc(bodyLines(osec), bodyLines(ns), func(a, b Line) bool { return a.Text == b.Text }) {
				t.Fatalf("no reload, but section %d changed: %q -> %q", i, osec.Header, ns.Header)
			}
		}
		m, want := modelOf(old), modelOf(new)
		if m == nil || want == nil {
			return
		}
		for _, d := range ch.Deletes {
			if _, ok := m[d.Backend][d.Server]; !ok {
				t.Fatalf("delete of %s/%s, which old lacks", d.Backend, d.Server)
			}
			delete(m[d.Backend], d.Server)
		}
		for _, a := range ch.Adds {
			if _, ok := m[a.Backend][a.Server]; ok || m[a.Backend] == nil {
				t.Fatalf("add of %s/%s: in old already, or no such backend", a.Backend, a.Server)
			}
			ns := new.Find(sectionKindOf(new, a.Backend), a.Backend).Servers
			s := ns[slices.IndexFunc(ns, func(s Server) bool { return s.Name == a.Server })]
			opts := slices.Clone(s.Rest)
			if s.Weight >= 0 {
				opts = append(opts, "weight", strconv.Itoa(s.Weight))
			}
			if a.Address != s.Address || a.Disabled != s.Disabled || a.Check != slices.Contains(a.Args, "check") ||
				len(a.Args) < len(opts) || !slices.Equal(a.Args[len(a.Args)-len(opts):], opts) {
				t.Fatalf("add %+v for server %+v", a, s)
			}
			m[a.Backend][a.Server] = want[a.Backend][a.Server]
		}
		seen := map[string]bool{}
		for _, u := range ch.Servers {
			o, ok := m[u.Backend][u.Server]
			if !ok || seen[u.Backend+"/"+u.Server] {
				t.Fatalf("update of %s/%s: not in old, or updated twice", u.Backend, u.Server)
			}
			seen[u.Backend+"/"+u.Server] = true
			w := want[u.Backend][u.Server]
			if u.Addr != w.Addr || u.Port != w.Port || u.Weight != w.Weight || (u.State == "maint") != w.Disabled {
				t.Fatalf("update %+v does not carry the new values %+v", u, w)
			}
			if u.AddrChanged {
				o.Addr, o.Port, o.Moved = u.Addr, u.Port, true
			}
			if u.WeightChanged {
				o.Weight = u.Weight
			}
			if u.StateChanged {
				o.Disabled = u.State == "maint"
			}
			m[u.Backend][u.Server] = o
		}
		for be, servers := range want {
			if len(m[be]) != len(servers) {
				t.Fatalf("backend %s: %d servers after the changes, want %d", be, len(m[be]), len(servers))
			}
			for name, w := range servers {
				g, ok := m[be][name]
				same := ok && g.Weight == w.Weight && g.Disabled == w.Disabled && slices.Equal(g.Rest, w.Rest)
				if g.Moved {
					same = same && g.Addr == w.Addr && g.Port == w.Port
				} else {
					same = same && g.Address == w.Address
				}
				if !same {
					t.Fatalf("%s/%s after the changes %+v, want %+v\nchange %+v", be, name, g, w, ch)
				}
			}
		}
	})
}

// sectionKindOf is the kind of c's proxy with servers named name.
func sectionKindOf(c *Config, name string) string {
	for _, s := range c.Sections {
		if hasServers(s.Kind) && s.Name == name {
			return s.Kind
		}
	}
	return ""
}

// applySteps is a model of HAProxy's runtime API: it applies steps to st
// the way HAProxy changes what `show servers state` reports.
func applySteps(t *testing.T, st *ServersState, steps []Step) *ServersState {
	out := &ServersState{Version: "1", Columns: st.Columns, Servers: slices.Clone(st.Servers)}
	find := func(s Step) int {
		i := slices.IndexFunc(out.Servers, func(o ServerState) bool { return o.Backend == s.Backend && o.Server == s.Server })
		if i < 0 && s.Kind != StepAdd {
			t.Fatalf("step %s: no such server", s)
		}
		return i
	}
	for _, s := range steps {
		i := find(s)
		switch s.Kind {
		case StepSetState:
			switch s.State {
			case "maint":
				out.Servers[i].AdminState |= AdminForcedMaint
			case "ready":
				out.Servers[i].AdminState &^= AdminForcedMaint | AdminForcedDrain
			default:
				t.Fatalf("step %s: bad state", s)
			}
		case StepSetAddr:
			out.Servers[i].Addr = s.Addr
			if s.Port > 0 {
				out.Servers[i].Port = s.Port
			}
		case StepSetWeight:
			if s.Weight < 0 || s.Weight > 256 {
				t.Fatalf("step %s: weight out of range", s)
			}
			out.Servers[i].UWeight = s.Weight
		case StepAdd:
			if i >= 0 || s.Add.Backend != s.Backend || s.Add.Server != s.Server {
				t.Fatalf("step %s: server exists, or add %+v", s, s.Add)
			}
			// A dynamic server starts in maintenance, with the last
			// weight of its options (1 by default); enabled unless
			// disabled.
			n := ServerState{Backend: s.Backend, Server: s.Server, UWeight: 1}
			n.Addr, n.Port = splitAddress(s.Add.Address)
			for j := 0; j+1 < len(s.Add.Args); j++ {
				if w, err := strconv.Atoi(s.Add.Args[j+1]); s.Add.Args[j] == "weight" && err == nil {
					n.UWeight = w
				}
			}
			n.IWeight = n.UWeight
			if s.Add.Disabled {
				n.AdminState = AdminForcedMaint
			}
			out.Servers = append(out.Servers, n)
		case StepDelete:
			out.Servers = slices.Delete(out.Servers, i, i+1)
		default:
			t.Fatalf("step %d: unknown kind", s.Kind)
		}
	}
	return out
}

// reconcileSeeds pairs the recorded `show servers state` replies with
// configs for their backend: as recorded, and changed.
func reconcileSeeds(f *testing.F) {
	for _, ver := range []string{"2.6", "3.0"} {
		b, err := os.ReadFile(filepath.Join("testdata", "servers-state-runtime-"+ver+".txt"))
		if err != nil {
			f.Fatal(err)
		}
		st, err := ParseServersState(string(b))
		if err != nil {
			f.Fatal(err)
		}
		for _, change := range []map[string]string{
			{},
			{"s1": "moved check", "s3": "weight 9", "s4": "-", "s9": "new"},
			{"s2": "disabled check", "s5": "check", "s6": "moved weight 300"},
		} {
			var cfg strings.Builder
			cfg.WriteString("defaults\n    default-server inter 100ms\nbackend be\n    balance roundrobin\n    default-server rise 2 fall 2\n")
			for _, s := range st.Servers {
				o, ok := change[s.Server]
				if !ok {
					o = recordedServers[s.Server]
				}
				port := s.Port
				if rest, moved := strings.CutPrefix(o, "moved"); moved {
					port, o = port+1, rest
				}
				if o != "-" {
					fmt.Fprintf(&cfg, "    server %s %s:%d %s\n", s.Server, s.Addr, port, o)
				}
			}
			if _, ok := change["s9"]; ok {
				cfg.WriteString("    server s9 [::1]:9 weight 4 check\n")
			}
			cfg.WriteString("backend other\n    server o 10.0.0.1\n")
			f.Add(cfg.String(), string(b))
		}
	}
	f.Add("backend b\n server s 10.0.0.1:80\n", "1\n# be_name srv_name srv_addr srv_port srv_admin_state srv_uweight srv_iweight\nb s 10.0.0.2 81 9 3 3\nb t 1.1.1.1 1 0 1 1\n")
}

// FuzzReconcile checks that the steps Reconcile returns for a config and
// an observed state, applied to that state, give what the config says,
// and that reconciling again then finds nothing to do.
func FuzzReconcile(f *testing.F) {
	reconcileSeeds(f)
	f.Fuzz(func(t *testing.T, cfgText, stateText string) {
		cfg, err1 := ParseConfig([]byte(cfgText))
		obs, err2 := ParseServersState(stateText)
		if err1 != nil || err2 != nil {
			return
		}
		steps, reason := Reconcile(cfg, obs)
		if reason != "" {
			if steps != nil {
				t.Fatalf("reason %q with steps %v", reason, steps)
			}
			return
		}
		want := modelOf(cfg)
		if want == nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range obs.Servers {
			if seen[s.Backend+"/"+s.Server] {
				return // HAProxy reports each server once
			}
			seen[s.Backend+"/"+s.Server] = true
		}
		got := applySteps(t, obs, steps)
		observed := map[string]bool{}
		for _, s := range obs.Servers {
			observed[s.Backend] = true
		}
		for _, s := range got.Servers {
			w, ok := want[s.Backend][s.Server]
			if want[s.Backend] == nil || !observed[s.Backend] {
				if o := obs.Find(s.Backend, s.Server); o == nil || !reflect.DeepEqual(*o, s) {
					t.Fatalf("%s/%s changed, which the config does not reconcile", s.Backend, s.Server)
				}
				continue
			}
			if !ok {
				t.Fatalf("%s/%s kept, the config lacks it; steps %v", s.Backend, s.Server, steps)
			}
			weight := w.Weight
			if weight < 0 {
				weight = s.IWeight
			}
			maint := s.AdminState&AdminForcedMaint != 0
			if s.Addr != w.Addr || (w.Port != 0 && s.Port != w.Port) || s.UWeight != weight ||
				(w.Disabled && !maint) || (!w.Disabled && s.AdminState&(AdminForcedMaint|AdminForcedDrain) != 0) {
				t.Fatalf("%s/%s after steps %v:\n%+v\nwant %+v", s.Backend, s.Server, steps, s, w)
			}
		}
		for be, servers := range want {
			if !observed[be] {
				continue
			}
			for name := range servers {
				if got.Find(be, name) == nil {
					t.Fatalf("%s/%s missing after steps %v", be, name, steps)
				}
			}
		}
		if again, why := Reconcile(cfg, got); again != nil || why != "" {
			t.Fatalf("after steps %v, Reconcile again: %v %q", steps, again, why)
		}
	})
}
