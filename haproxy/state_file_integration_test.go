package haproxy

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harender/harender/internal/testbin"
)

// stateFileConfig loads its server state from DIR/server-state on every
// (re)load. up is a live HTTP server, down a closed port.
func stateFileConfig(dir string, fe, up, down int) string {
	return fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
    server-state-file %[1]s/server-state

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    load-server-state-from-file global

frontend fe
    bind 127.0.0.1:%[2]d
    default_backend be

backend be
    default-server inter 100ms rise 2 fall 2
    # put in maintenance and weighted 7 at runtime
    server s1 127.0.0.1:%[3]d check
    # its check fails
    server s2 127.0.0.1:%[4]d check
    # no check; put in maintenance at runtime
    server s3 127.0.0.1:%[3]d
    # weighted 2, drained and its check disabled at runtime
    server s4 127.0.0.1:%[3]d check weight 5
    # marked down at runtime; slow to rise, so only the state file keeps it down
    server s5 127.0.0.1:%[3]d check rise 1000
    server s6 127.0.0.1:%[3]d check disabled
`, dir, fe, up, down)
}

// TestStateFileKeepsHealthNotAdminState reloads HAProxy with StateFileFor
// written to its server-state-file, after runtime changes that the config
// does not ask for: they must not survive the reload, while health must.
func TestStateFileKeepsHealthNotAdminState(t *testing.T) {
	forEachBinary(t, func(t *testing.T, bin haproxyBin) {
		dir := t.TempDir()
		cfgPath := filepath.Join(dir, "haproxy.cfg")
		text := stateFileConfig(dir, testbin.FreePort(t), namedServer(t, "A"), testbin.FreePort(t))
		if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := mustParse(t, text)
		p := startProcess(t, processOptions(bin.Path, dir, cfgPath))
		m := &Master{Path: filepath.Join(dir, "master.sock"), Retry: 5 * time.Second}
		rt := &Runtime{Path: filepath.Join(dir, "admin.sock")}
		waitRuntime(t, rt)

		for _, cmd := range []string{
			"disable server be/s1",
			"set server be/s1 weight 7",
			"disable server be/s3",
			"set server be/s4 weight 2",
			"set server be/s4 state drain",
			"disable health be/s4",
			"set server be/s5 health down",
		} {
			if err := rt.run(t.Context(), cmd); err != nil {
				t.Fatal(err)
			}
		}
		obs := waitServers(t, rt, "s2 to be seen down", func(st *ServersState) bool {
			return st.Find("be", "s2").OpState == 0
		})
		if s1 := obs.Find("be", "s1"); !s1.Maint() || s1.UWeight != 7 {
			t.Fatalf("before the reload s1 = %+v, want maint, weight 7", s1)
		}

		if err := os.WriteFile(filepath.Join(dir, "server-state"), StateFileFor(obs, cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := m.Reload(t.Context())
		if err != nil {
			t.Fatalf("reload: %v\n%s", err, p.Tail())
		}
		after := newWorkerState(t, rt, res.After.Workers[0].PID)

		for _, tc := range []struct {
			server             string
			op, admin, uweight int
		}{
			{"s1", 2, 0, 1}, // out of maintenance, at the config's weight
			{"s2", 0, 0, 1}, // still down: health kept
			{"s3", 2, 0, 1}, // out of maintenance, and up with no check to bring it up
			{"s4", 2, 0, 5}, // not drained, at the config's weight
			{"s5", 0, 0, 1}, // still down: health kept
			{"s6", 0, 5, 1}, // still disabled, as the config says
		} {
			s := after.Find("be", tc.server)
			if s == nil || s.OpState != tc.op || s.AdminState != tc.admin || s.UWeight != tc.uweight {
				t.Errorf("after the reload %s = %+v; want op %d admin %d weight %d", tc.server, s, tc.op, tc.admin, tc.uweight)
			}
		}
		if s4 := after.Find("be", "s4"); s4 != nil && s4.Fields[13] != "6" {
			t.Errorf("after the reload s4's check state = %s, want 6 (enabled again)", s4.Fields[13])
		}
		if t.Failed() {
			t.Logf("state file:\n%s\nafter:\n%s", StateFileFor(obs, cfg), after.Bytes())
		}
	})
}

// waitServers polls `show servers state` until ok accepts it.
func waitServers(t *testing.T, rt *Runtime, what string, ok func(*ServersState) bool) *ServersState {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := rt.ServersState(t.Context())
		if err == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v\n%+v", what, err, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newWorkerState returns the first `show servers state` that the worker
// pid answers, so that nothing is read from the old worker.
func newWorkerState(t *testing.T, rt *Runtime, pid int) *ServersState {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := rt.Command(t.Context(), "show info")
		if err == nil && infoPID(info) == pid {
			st, err := rt.ServersState(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %d never answered on %s: %v", pid, rt.Path, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// infoPID reads "Pid: N" from `show info`.
func infoPID(info string) int {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(l, "Pid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}
