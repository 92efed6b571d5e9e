package haproxy

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseServersState(t *testing.T) {
	const header = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_port\n"
	for _, tc := range []struct {
		name, in, err string
		servers       []ServerState // compared without Fields
	}{
		{name: "recorded 2.6", in: "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n3 be 1 s1 127.0.0.1 0 1 7 1 12 8 2 0 14 0 0 0 - 37133 - 0 0 - - 0\n\n",
			servers: []ServerState{{Backend: "be", Server: "s1", Addr: "127.0.0.1", Port: 37133, OpState: 0, AdminState: 1, UWeight: 7, IWeight: 1}}},
		{name: "no server", in: "1\n" + header + "\n"},
		{name: "header without the space", in: "1\n#be_id be_name srv_id srv_name\n2 fe 1 s1\n",
			servers: []ServerState{{Backend: "fe", Server: "s1"}}},
		{name: "extra fields kept", in: "1\n" + header + "2 b 1 s ::1 2 5 3 3 80 extra\n",
			servers: []ServerState{{Backend: "b", Server: "s", Addr: "::1", Port: 80, OpState: 2, AdminState: 5, UWeight: 3, IWeight: 3}}},
		{name: "empty", in: "", err: "unknown format"},
		{name: "error reply", in: "Unknown command.\n", err: "unknown format"},
		{name: "no header", in: "1\n3 be 1 s1\n", err: "line 2: 4 fields, want 0"},
		{name: "short line", in: "1\n" + header + "3 be 1 s1\n", err: "line 3: 4 fields, want 10"},
		{name: "second header", in: "1\n" + header + "# a b\n", err: "line 3: second column header"},
		{name: "no names", in: "1\n# a b\n1 2\n", err: "line 3: no be_name or srv_name"},
		{name: "negative weight", in: "1\n# be_name srv_name srv_iweight\nb s -1\n", err: "line 3: negative srv_iweight -1"}, // found by FuzzReconcile
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ParseServersState(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []ServerState
			for _, s := range st.Servers {
				s.Fields = nil
				got = append(got, s)
			}
			if !reflect.DeepEqual(got, tc.servers) {
				t.Errorf("servers = %+v, want %+v", got, tc.servers)
			}
		})
	}
}

func FuzzParseServersState(f *testing.F) {
	addTestdata(f, "servers-state-")
	f.Add("1\n# be_name srv_name\nb s\n")
	f.Add("1\n# be_name srv_name srv_port\nb s x\n  # b s\n")
	f.Add("1\r\n#\tbe_name srv_name\r\nb s\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseServersState(s)
		if err != nil {
			return
		}
		again, err := ParseServersState(string(st.Bytes()))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", st.Bytes(), err)
		}
		if !reflect.DeepEqual(st, again) {
			t.Fatalf("round trip changed\n%+v\ninto\n%+v", st, again)
		}
		for _, srv := range st.Servers {
			if srv.Backend == "" || srv.Server == "" || len(srv.Fields) < len(st.Columns) {
				t.Fatalf("accepted bad server %+v", srv)
			}
		}
		// Whatever HAProxy reported, a state file for a config holding
		// every server parses and never carries a forced admin state.
		var cfg strings.Builder
		for _, srv := range st.Servers {
			cfg.WriteString("backend " + srv.Backend + "\n server " + srv.Server + " " + srv.Addr + "\n")
		}
		c, err := ParseConfig([]byte(cfg.String()))
		if err != nil {
			return
		}
		file, err := ParseServersState(string(StateFileFor(st, c)))
		if err != nil {
			t.Fatalf("state file does not parse: %v", err)
		}
		for _, srv := range file.Servers {
			if srv.AdminState != 0 || len(srv.Fields) != stateFields {
				t.Fatalf("state file line %+v", srv)
			}
		}
	})
}
