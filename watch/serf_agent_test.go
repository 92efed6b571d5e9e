package watch

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/harender/harender/internal/testenv"
)

// serfNames lists the member names of a serfMembers answer.
func serfNames(v any) string {
	list, _ := v.([]*SerfMember)
	var s []string
	for _, m := range list {
		s = append(s, m.Name)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// waitSerf waits until the snapshot holds the members want for d.
func (h *harness) waitSerf(d Dependency, want string) {
	h.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		got, ok := h.w.Snapshot().Get(d)
		if ok && serfNames(got) == want {
			return
		}
		select {
		case <-h.w.Updates():
		case <-deadline:
			h.t.Fatalf("%s: waited for members %s, have %s (%v)\n%s", d, want, serfNames(got), ok, h.logs)
		}
	}
}

// A serfMembers query against real agents: a join, a tag update and a
// graceful leave arrive through the event stream; the agent it talks to
// restarted keeps the members delivered last, says so once, and comes back
// with no restart of the Watcher. The RPC auth key is never logged.
func TestSerfMembersAgent(t *testing.T) {
	agentTest(t)
	const key = "s3cret-serf-rpc-key"
	lb := testenv.StartSerfAgent(t, "lb", map[string]string{"role": "lb"}, key)
	gw1 := testenv.StartSerfAgent(t, "gw-1", map[string]string{"role": "gateway", "port": "8081"}, "", lb.Bind)
	// The Watcher starts once lb knows gw-1: an empty first answer is
	// Serf's truth before the join, and not what this test is about.
	waitMembers(t, lb, 2)
	keyFile := filepath.Join(t.TempDir(), "serf.key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	h := &harness{t: t, logs: &testenv.LockedBuffer{}}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := NewSerf(SerfConfig{Addr: lb.RPC, AuthKeyFile: keyFile, Logger: log})
	t.Cleanup(s.Close) // after the Watcher stops: cleanups run last first
	h.w = New(nil, Options{Logger: log, Serf: s, Backoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	t.Cleanup(h.w.Stop)
	q, err := NewSerfMembersQuery("role=gateway")
	if err != nil {
		t.Fatal(err)
	}
	h.w.Watch(t.Context(), []Dependency{q})
	h.waitSerf(q, "[gw-1]")

	gw2 := testenv.StartSerfAgent(t, "gw-2", map[string]string{"role": "gateway", "port": "8082"}, "", lb.Bind)
	h.waitSerf(q, "[gw-1 gw-2]")
	gw2.SetTags(t, map[string]string{"role": "standby"})
	h.waitSerf(q, "[gw-1]")
	gw2.SetTags(t, map[string]string{"role": "gateway"})
	h.waitSerf(q, "[gw-1 gw-2]")
	gw2.Leave(t)
	h.waitSerf(q, "[gw-1]")

	// The agent harender talks to goes away: the last members stay.
	lb.Kill(t)
	time.Sleep(time.Second)
	if got, _ := h.w.Snapshot().Get(q); serfNames(got) != "[gw-1]" {
		t.Fatalf("agent away: members %s, want [gw-1] held", serfNames(got))
	}
	testenv.StartSerfAgent(t, "gw-3", map[string]string{"role": "gateway"}, "", gw1.Bind)
	// Started again, it knows only itself until it joins (as -retry-join
	// would): the empty answer in between is held back, not delivered.
	lb.Start(t)
	time.Sleep(300 * time.Millisecond)
	c, err := lb.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Join([]string{gw1.Bind}, false); err != nil {
		t.Fatal(err)
	}
	c.Close()
	h.waitSerf(q, "[gw-1 gw-3]")

	logs := h.logLines()
	if d := delivered(logs, q); slices.Contains(d, 0) {
		t.Errorf("delivered %v: an empty answer went through\n%s", d, h.logs)
	}
	if n := len(logged(logs, "serf agent connection lost; its last members stay rendered, reconnecting with backoff")); n != 1 {
		t.Errorf("%d 'connection lost' warnings, want 1\n%s", n, h.logs)
	}
	if n := len(logged(logs, "serf agent reachable again")); n != 1 {
		t.Errorf("%d 'reachable again' lines, want 1\n%s", n, h.logs)
	}
	if strings.Contains(h.logs.String(), key) {
		t.Errorf("the RPC auth key is in the log:\n%s", h.logs)
	}
}

// A wrong RPC auth key fails the query with an error that names the file
// and the agent, never the key.
func TestSerfWrongAuthKey(t *testing.T) {
	agentTest(t)
	lb := testenv.StartSerfAgent(t, "lb", nil, "right-key")
	keyFile := filepath.Join(t.TempDir(), "serf.key")
	if err := os.WriteFile(keyFile, []byte("wrong-key-0123"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := NewSerf(SerfConfig{Addr: lb.RPC, AuthKeyFile: keyFile})
	defer s.Close()
	q, _ := NewSerfMembersQuery("")
	_, _, err := q.fetchSerf(t.Context(), s, &api.QueryOptions{WaitTime: time.Second})
	if err == nil || strings.Contains(err.Error(), "wrong-key") || strings.Contains(err.Error(), "right-key") {
		t.Fatalf("err = %v; want an error without the key", err)
	}
	t.Logf("error: %v", err)
}

// waitMembers waits until agent a sees n alive members.
func waitMembers(t *testing.T, a *testenv.SerfAgent, n int) {
	t.Helper()
	c, err := a.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ms, err := c.Members()
		alive := 0
		for _, m := range ms {
			if m.Status == "alive" {
				alive++
			}
		}
		if err == nil && alive >= n {
			return
		}
	}
	t.Fatalf("serf agent %s: fewer than %d members alive after 10s", a.RPC, n)
}
