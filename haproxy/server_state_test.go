package haproxy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recordedState reads testdata/servers-state-runtime-VER.txt, recorded from
// HAProxy with this backend (s1..s6 at the ports the reply shows):
//
//	default-server inter 100ms rise 2 fall 2
//	server s1 UP check               + disable server; set server weight 7
//	server s2 CLOSED check             (its check fails: DOWN)
//	server s3 UP                     + set server state drain
//	server s4 UP check disabled
//	server s5 UP check weight 5      + disable health
//	server s6 UP check               + set server weight 3
func recordedState(t *testing.T, ver string) *ServersState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "servers-state-runtime-"+ver+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseServersState(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// recordedServers are the options of the recorded servers, as recorded.
var recordedServers = map[string]string{
	"s1": "check", "s2": "check", "s3": "", "s4": "check disabled", "s5": "check weight 5", "s6": "check",
}

// recordedWith returns recordedServers with changes: a server mapped to
// "-" is removed; options starting with "moved" put it one port further.
func recordedWith(changes map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range recordedServers {
		m[k] = v
	}
	for k, v := range changes {
		m[k] = v
		if v == "-" {
			delete(m, k)
		}
	}
	return m
}

// recordedConfig renders section kindName with a server line per entry of
// servers (name -> options), at the address and port obs shows for it.
func recordedConfig(t *testing.T, obs *ServersState, kindName string, servers map[string]string) *Config {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n    default-server inter 100ms rise 2 fall 2\n", kindName)
	for _, s := range obs.Servers {
		o, ok := servers[s.Server]
		if !ok {
			continue
		}
		port := s.Port
		if rest, moved := strings.CutPrefix(o, "moved"); moved {
			port, o = port+1, rest
		}
		fmt.Fprintf(&b, "    server %s %s:%d %s\n", s.Server, s.Addr, port, o)
	}
	return mustParse(t, b.String())
}

// want is what one written line must say; absent servers are not written.
type want struct {
	op, admin, weight, check int
}

func TestStateFileFor(t *testing.T) {
	cases := []struct {
		name    string
		section string
		servers map[string]string // server -> its options in cfg
		want    map[string]want
	}{{
		// s1: in forced maintenance at runtime, enabled in cfg: left out,
		// so that HAProxy starts it as cfg says (not in maint, weight 1).
		// s2: down, its health kept. s3: drain dropped. s4: disabled in cfg,
		// written as HAProxy writes it. s5: `disable health` dropped, cfg's
		// weight. s6: runtime weight 3 dropped.
		name:    "recorded config",
		section: "backend be",
		servers: recordedServers,
		want: map[string]want{
			"s2": {op: 0, admin: 0, weight: 1, check: 6},
			"s3": {op: 2, admin: 0, weight: 1, check: 0},
			"s4": {op: 0, admin: 5, weight: 1, check: 14},
			"s5": {op: 2, admin: 0, weight: 5, check: 6},
			"s6": {op: 2, admin: 0, weight: 1, check: 6},
		},
	}, {
		name:    "listen section, cfg changes admin state and weights",
		section: "listen be",
		servers: map[string]string{
			"s1": "check disabled", // maint at runtime, now disabled in cfg: CMAINT|FMAINT
			"s2": "check weight 0",
			"s3": "weight 256",
			"s4": "check", // disabled before, enabled now: its forced DOWN is not health
			"s5": "check", // weight 5 removed: back to 1
			"s6": "check disabled weight 2",
		},
		want: map[string]want{
			"s1": {op: 0, admin: 5, weight: 1, check: 14},
			"s2": {op: 0, admin: 0, weight: 0, check: 6},
			"s3": {op: 2, admin: 0, weight: 256, check: 0},
			"s5": {op: 2, admin: 0, weight: 1, check: 6},
			"s6": {op: 2, admin: 5, weight: 2, check: 6},
		},
	}, {
		name:    "moved and removed servers are left out",
		section: "backend be",
		servers: recordedWith(map[string]string{"s2": "moved check", "s3": "-", "s5": "moved check weight 5"}),
		want: map[string]want{
			"s4": {op: 0, admin: 5, weight: 1, check: 14},
			"s6": {op: 2, admin: 0, weight: 1, check: 6},
		},
	}, {
		name:    "another backend",
		section: "backend other",
		servers: recordedServers,
		want:    map[string]want{},
	}, {
		name:    "a frontend's servers are no proxy servers",
		section: "frontend be",
		servers: recordedServers,
		want:    map[string]want{},
	}}
	for _, ver := range []string{"2.6", "3.0"} {
		for _, tc := range cases {
			t.Run(ver+"/"+tc.name, func(t *testing.T) {
				obs := recordedState(t, ver)
				cfg := recordedConfig(t, obs, tc.section, tc.servers)
				out := StateFileFor(obs, cfg)
				got := checkStateFile(t, out)
				var names []string
				for _, s := range got.Servers {
					names = append(names, s.Server)
					w, ok := tc.want[s.Server]
					if !ok {
						t.Errorf("%s written, want it left out:\n%s", s.Server, out)
						continue
					}
					if s.OpState != w.op || s.AdminState != w.admin || s.UWeight != w.weight || s.IWeight != w.weight || s.Fields[13] != fmt.Sprint(w.check) {
						t.Errorf("%s = op %d admin %d weights %d/%d check %s; want %+v", s.Server, s.OpState, s.AdminState, s.UWeight, s.IWeight, s.Fields[13], w)
					}
					// Every field but the rewritten ones is HAProxy's.
					o := obs.Find(s.Backend, s.Server)
					for i, f := range s.Fields {
						if i != colAdminState && i != colUWeight && i != colIWeight && i != colCheckState && f != o.Fields[i] {
							t.Errorf("%s: %s = %q, observed %q", s.Server, stateColumns[i], f, o.Fields[i])
						}
					}
				}
				for name := range tc.want {
					if !slices.Contains(names, name) {
						t.Errorf("%s left out, want it written:\n%s", name, out)
					}
				}
			})
		}
	}
}

// checkStateFile checks that b is a file HAProxy loads whole: the version,
// then lines of exactly the 20 mandatory fields, each ending in a newline
// (HAProxy drops a line without one as truncated).
func checkStateFile(t *testing.T, b []byte) *ServersState {
	t.Helper()
	s := string(b)
	if !strings.HasPrefix(s, "1\n# be_id be_name srv_id srv_name srv_addr ") || !strings.HasSuffix(s, "\n") {
		t.Fatalf("state file:\n%s", s)
	}
	st, err := ParseServersState(s)
	if err != nil {
		t.Fatalf("state file does not parse: %v\n%s", err, s)
	}
	for _, srv := range st.Servers {
		if len(srv.Fields) != stateFields {
			t.Errorf("%s: %d fields, want %d", srv.Server, len(srv.Fields), stateFields)
		}
	}
	return st
}

func TestStateFileForNothingToWrite(t *testing.T) {
	cfg := mustParse(t, "backend be\n    server s1 127.0.0.1:80\n")
	noAdmin := "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state\n3 be 1 s1 127.0.0.1 2\n"
	for _, tc := range []struct {
		name string
		obs  *ServersState
		cfg  *Config
	}{
		{"no observation", nil, cfg},
		{"no config", recordedState(t, "3.0"), nil},
		{"no server", &ServersState{Version: "1"}, cfg},
		{"unknown columns", mustParseState(t, noAdmin), cfg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if st := checkStateFile(t, StateFileFor(tc.obs, tc.cfg)); len(st.Servers) != 0 {
				t.Errorf("wrote %d servers", len(st.Servers))
			}
		})
	}
}

func mustParseState(t *testing.T, s string) *ServersState {
	t.Helper()
	st, err := ParseServersState(s)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
