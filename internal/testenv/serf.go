package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	serf "github.com/hashicorp/serf/client"
)

// SerfAgent is one `serf agent` (Debian's /usr/bin/serf, or $SERF_BIN) on
// loopback, with its own gossip and RPC ports and the local timing profile
// (a killed member is seen failed within seconds).
type SerfAgent struct {
	Name    string
	Bind    string // gossip address, host:port
	RPC     string // RPC address, host:port
	AuthKey string // RPC auth key, "" for none
	bin     string
	args    []string
	log     *LockedBuffer
	cmd     *exec.Cmd
	exited  chan error
}

// NewSerfAgent picks the ports of an agent called name with tags, which
// joins the agents at join when it starts, without starting it. A non-empty
// authKey is the agent's rpc_auth, given in a config file, not argv. The
// agent is killed when the test ends.
func NewSerfAgent(t testing.TB, name string, tags map[string]string, authKey string, join ...string) *SerfAgent {
	t.Helper()
	bin := Require(t, "serf", os.Getenv("SERF_BIN"), "serf")
	a := &SerfAgent{
		Name: name, AuthKey: authKey, bin: bin, log: &LockedBuffer{},
		Bind: fmt.Sprintf("127.0.0.1:%d", FreePort(t)), RPC: fmt.Sprintf("127.0.0.1:%d", FreePort(t)),
	}
	a.args = []string{"agent", "-node", name, "-bind", a.Bind, "-rpc-addr", a.RPC, "-profile", "local", "-log-level", "info"}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a.args = append(a.args, "-tag", k+"="+tags[k])
	}
	for _, j := range join {
		a.args = append(a.args, "-join", j)
	}
	if authKey != "" {
		conf := filepath.Join(t.TempDir(), "serf-"+name+".json")
		if err := os.WriteFile(conf, []byte(`{"rpc_auth": `+strconv.Quote(authKey)+`}`), 0o600); err != nil {
			t.Fatal(err)
		}
		a.args = append(a.args, "-config-file", conf)
	}
	t.Cleanup(func() {
		a.Kill(t)
		if t.Failed() {
			t.Logf("serf agent %s output:\n%s", name, a.log)
		}
	})
	return a
}

// StartSerfAgent is NewSerfAgent and Start.
func StartSerfAgent(t testing.TB, name string, tags map[string]string, authKey string, join ...string) *SerfAgent {
	t.Helper()
	a := NewSerfAgent(t, name, tags, authKey, join...)
	a.Start(t)
	return a
}

// Start starts the agent (again, on the same ports and with the same tags)
// and waits until its RPC answers and it has joined whom it was told to.
func (a *SerfAgent) Start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(a.bin, a.args...)
	cmd.Stdout, cmd.Stderr = a.log, a.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start serf agent %s: %v", a.Name, err)
	}
	a.cmd, a.exited = cmd, make(chan error, 1)
	go func(exited chan<- error) { exited <- cmd.Wait() }(a.exited)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := a.Client()
		if err == nil {
			c.Close()
			return
		}
		select {
		case e := <-a.exited:
			a.cmd = nil
			t.Fatalf("serf agent %s exited early: %v\n%s", a.Name, e, a.log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serf agent %s: RPC %s not answering in 20s: %v\n%s", a.Name, a.RPC, err, a.log)
		}
	}
}

// Client is a new RPC connection to the agent; the caller closes it.
func (a *SerfAgent) Client() (*serf.RPCClient, error) {
	return serf.ClientFromConfig(&serf.Config{Addr: a.RPC, AuthKey: a.AuthKey, Timeout: 5 * time.Second})
}

// Leave makes the agent leave the cluster gracefully and exit, as SIGINT
// does.
func (a *SerfAgent) Leave(t testing.TB) {
	t.Helper()
	a.signal(t, syscall.SIGINT, 15*time.Second)
}

// Stop stops the agent with SIGTERM, as a supervisor's restart would: it
// exits without leaving; the others see it fail.
func (a *SerfAgent) Stop(t testing.TB) {
	t.Helper()
	a.signal(t, syscall.SIGTERM, 15*time.Second)
}

// Join has the running agent join the agents at addrs, as -retry-join
// does once they answer.
func (a *SerfAgent) Join(t testing.TB, addrs ...string) {
	t.Helper()
	c, err := a.Client()
	if err != nil {
		t.Fatalf("serf agent %s: %v", a.Name, err)
	}
	defer c.Close()
	if _, err := c.Join(addrs, false); err != nil {
		t.Fatalf("serf agent %s: join %v: %v", a.Name, addrs, err)
	}
}

// Kill stops the agent with SIGKILL, as kill -9 would: no leave; the others
// see it fail.
func (a *SerfAgent) Kill(t testing.TB) {
	t.Helper()
	a.signal(t, syscall.SIGKILL, 10*time.Second)
}

func (a *SerfAgent) signal(t testing.TB, sig syscall.Signal, wait time.Duration) {
	t.Helper()
	if a.cmd == nil {
		return
	}
	_ = a.cmd.Process.Signal(sig)
	select {
	case <-a.exited:
	case <-time.After(wait):
		_ = a.cmd.Process.Kill()
		<-a.exited
		t.Errorf("serf agent %s did not exit within %s of %s", a.Name, wait, sig)
	}
	a.cmd = nil
}

// SetTags sets tags on the running agent; the cluster sees a
// member-update.
func (a *SerfAgent) SetTags(t testing.TB, tags map[string]string) {
	t.Helper()
	c, err := a.Client()
	if err != nil {
		t.Fatalf("serf agent %s: %v", a.Name, err)
	}
	defer c.Close()
	if err := c.UpdateTags(tags, nil); err != nil {
		t.Fatalf("serf agent %s: update tags: %v", a.Name, err)
	}
}

// Members is the agent's view: member name to status.
func (a *SerfAgent) Members(t testing.TB) map[string]string {
	t.Helper()
	c, err := a.Client()
	if err != nil {
		t.Fatalf("serf agent %s: %v", a.Name, err)
	}
	defer c.Close()
	ms, err := c.Members()
	if err != nil {
		t.Fatalf("serf agent %s: members: %v", a.Name, err)
	}
	out := map[string]string{}
	for _, m := range ms {
		out[m.Name] = m.Status
	}
	return out
}

// WaitMembers waits until the agent sees exactly the alive members named.
func (a *SerfAgent) WaitMembers(t testing.TB, names ...string) {
	t.Helper()
	want := append([]string(nil), names...)
	sort.Strings(want)
	var got []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got = got[:0]
		for n, s := range a.Members(t) {
			if s == "alive" {
				got = append(got, n)
			}
		}
		sort.Strings(got)
		if strings.Join(got, ",") == strings.Join(want, ",") {
			return
		}
	}
	t.Fatalf("serf agent %s: alive members %v, want %v", a.Name, got, want)
}

// PID is the agent's process id, 0 when it is not running.
func (a *SerfAgent) PID() int {
	if a.cmd == nil {
		return 0
	}
	return a.cmd.Process.Pid
}
