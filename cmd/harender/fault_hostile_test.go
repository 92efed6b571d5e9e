package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/internal/testenv"
)

// injectionLine is the user template line of issue 7: it prints an
// instance's ID, address and meta into a server line as they are. It is
// appended to the built-in gateway template, in the same backend, so
// that every instance is rendered twice: by the built-in (server ID) and
// by this line (server u-ID).
const injectionLine = `{{- range service "gateway" }}
    server u-{{ .ID }} {{ .Address }}:{{ .Port }}{{ with .ServiceMeta.sni }} check-sni "{{ . }}"{{ end }}
{{- end }}
`

// TestFaultHostileData is row 9 of the fault table, and the runtime API
// injection of issue 7, against real Consul and HAProxy under wrk load.
//
//  1. An instance with meta sni = "x;disable frontend gateway;": the
//     candidate passes haproxy -c, and the add server line it implies
//     holds a ';'. It must never reach the runtime API (where ';' separates
//     commands and would pause the frontend): the engine logs the server
//     and reloads instead. The frontend stays open; no request fails.
//  2. Instances whose IDs, tags, meta and addresses hold newlines, blanks,
//     '#', ';', quotes, or 10,000 bytes. The built-in template names them
//     safely or leaves them out; the injection line renders broken server
//     lines, which haproxy -c refuses: the last good config stays, the log
//     quotes HAProxy's cause with the candidate's file and line, and HAProxy
//     keeps serving the good instances.
//
// Throughout, every version of haproxy.cfg a poller sees is whole and
// passes haproxy -c.
func TestFaultHostileData(t *testing.T) {
	forEachFaultHAProxy(t, func(t *testing.T, bin string) {
		consul, gws := startGateways(t, 2)
		gw1, gw2 := gws[0], gws[1]
		s, src := runSetup(t, consul.Addr, bin, injectionLine)
		versions := watchVersions(t, s.haproxyCfg)
		r, url := startServing(t, s, 2)
		confirmed := func() float64 { return r.metric(t, okReloads) }

		// 1. The injection.
		before := confirmed()
		wrk := testenv.StartWrk(t, "-t1", "-c16", "-d8s", url)
		time.Sleep(time.Second)
		evil := "x;disable frontend gateway;"
		registerRaw(t, consul, &api.AgentServiceRegistration{ID: "evil", Meta: map[string]string{"sni": evil}}, gw1)
		waitFor(t, r, "the injection's server to arrive through a reload", func() bool {
			b, _ := os.ReadFile(s.haproxyCfg)
			return strings.Contains(string(b), `server u-evil 127.0.0.1:`+strconv.Itoa(gw1.Addr.Port)+` check-sni "`+evil+`"`) &&
				confirmed() > before && strings.Contains(r.Logs(), "server=gateway/u-evil")
		})
		load1, err := wrk.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s, injection: %s", testenv.HAProxyVersion(bin), load1)
		if load1.Failed() > 0 {
			t.Errorf("%d of %d requests failed while the injection was applied", load1.Failed(), load1.Requests)
		}
		logLine := lineWith(r.Logs(), "server=gateway/u-evil")
		if !strings.Contains(logLine, "never sent to haproxy") {
			t.Errorf("the refusal is not logged clearly: %s", logLine)
		}
		t.Logf("log: %s", logLine)
		if st := frontendStatus(t, s.runtime, "gateway"); st != "OPEN" {
			t.Errorf("frontend gateway is %q after the injection, want OPEN", st)
		}
		servers := showServers(t, s.runtime)
		if !strings.Contains(servers, " u-evil ") {
			t.Errorf("u-evil is not among HAProxy's servers after the reload:\n%s", servers)
		}
		waitAnswers(t, url, 2)

		// 2. Hostile data.
		before = confirmed()
		rejected := r.metric(t, `harender_haproxy_check_failures_total`)
		wrk = testenv.StartWrk(t, "-t1", "-c16", "-d8s", url)
		time.Sleep(time.Second)
		long := strings.Repeat("a", 10000)
		var refused []string
		for _, reg := range []*api.AgentServiceRegistration{
			{ID: "id-newline\n    http-request deny"},
			{ID: "id blank backup"},
			{ID: "id#hash"},
			{ID: "id;disable frontend gateway;"},
			{ID: `id"quote'`},
			{ID: long},
			{ID: "tags", Tags: []string{"a\n    http-request deny", "b;c", "#d", `"e'`, long}},
			{ID: "meta-newline", Meta: map[string]string{"sni": "x\"\n    http-request deny if TRUE\n#"}},
			{ID: "meta-512", Meta: map[string]string{"sni": long[:512]}},
			{ID: "meta-10k", Meta: map[string]string{"sni": long}},
			{ID: "meta-key", Meta: map[string]string{"a b;c": "x"}},
			{ID: "addr-blank", Address: "127.0.0.1:" + strconv.Itoa(gw2.Addr.Port) + " backup #"},
			{ID: "addr-newline", Address: "127.0.0.1\n    http-request deny"},
			{ID: "addr-host", Address: "no-such-host.invalid"},
			{ID: "addr-10k", Address: long},
		} {
			if err := tryRegister(consul, reg, gw2); err != nil {
				refused = append(refused, fmt.Sprintf("%.40q: %.120s", reg.ID, err))
			}
		}
		for _, r := range refused {
			t.Logf("consul refused %s", r)
		}
		waitFor(t, r, "the candidate with hostile data to be refused by haproxy -c", func() bool {
			return r.metric(t, `harender_haproxy_check_failures_total`) > rejected
		})
		load2, err := wrk.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s, hostile data: %s", testenv.HAProxyVersion(bin), load2)
		if load2.Failed() > 0 {
			t.Errorf("%d of %d requests failed under hostile data", load2.Failed(), load2.Requests)
		}
		failure := lineWith(r.Logs(), ".candidate:")
		t.Logf("log: %.400s", failure)
		if !strings.Contains(failure, "[ALERT]") || !strings.Contains(failure, s.haproxyCfg+".candidate:") {
			t.Errorf("the rejection does not quote HAProxy's cause with the candidate's file and line:\n%s", failure)
		}
		if n := confirmed(); n != before {
			t.Errorf("%v reloads with the hostile candidate, want none", n-before)
		}
		if st := frontendStatus(t, s.runtime, "gateway"); st != "OPEN" {
			t.Errorf("frontend gateway is %q under hostile data, want OPEN", st)
		}
		cand, _ := os.ReadFile(s.haproxyCfg + ".candidate")
		builtinPart := string(cand)
		if i := strings.Index(builtinPart, "    server u-"); i > 0 {
			builtinPart = builtinPart[:i]
		}
		checkBuiltinSafe(t, builtinPart, gw2.Addr.Port)
		waitAnswers(t, url, 2)

		// The built-in alone: the same data with the injection line taken
		// out of the template renders, passes haproxy -c and is applied
		// (through the runtime API: only servers differ).
		text, _ := os.ReadFile(src)
		writeFile(t, src, strings.TrimSuffix(string(text), injectionLine))
		waitFor(t, r, "the built-in template alone to apply the hostile data", func() bool {
			b, _ := os.ReadFile(s.haproxyCfg)
			return !strings.Contains(string(b), "server u-") && strings.Contains(string(b), "# left out addr-blank") &&
				!strings.Contains(showServers(t, s.runtime), " u-gw-1 ")
		})
		final, _ := os.ReadFile(s.haproxyCfg)
		checkBuiltinSafe(t, string(final), gw2.Addr.Port)
		servers = showServers(t, s.runtime)
		for _, want := range []string{" id_hash ", " id-newline_____http-request_deny ", " " + strings.Repeat("a", 119) + "-"} {
			if !strings.Contains(servers, want) {
				t.Errorf("HAProxy does not run server%s:\n%.2000s", want, servers)
			}
		}
		if st := frontendStatus(t, s.runtime, "gateway"); st != "OPEN" {
			t.Errorf("frontend gateway is %q with the built-in template, want OPEN", st)
		}
		waitAnswers(t, url, 2)

		lost := false
		seen := versions.stop()
		for i, v := range seen {
			if err := haproxyCheck(t, bin, s.dir, v); err != nil {
				lost = true
				t.Errorf("version %d of %d of haproxy.cfg seen on disk does not pass haproxy -c: %v", i+1, len(seen), err)
			}
		}
		t.Logf("%d versions of haproxy.cfg seen on disk, each passed haproxy -c", len(seen))
		total := addWrk(load1, load2)
		faultRow{
			Fault: "Hostile Consul data: meta sni \"x;disable frontend gateway;\" in a user template, then IDs, tags, meta, addresses with newlines, blanks, #, ;, quotes, 10,000 bytes",
			Did: fmt.Sprintf("';' never sent to the runtime API: reloaded, frontend open; user template's broken candidate refused by haproxy -c, last good config kept; built-in named them safely, left %d bad addresses out; Consul refused %d",
				strings.Count(string(final), "# left out"), len(refused)),
			Load: total, ConfigLost: lost,
		}.report(t, bin)
	})
}

// registerRaw registers reg as an instance of "gateway" served by gw
// (address and port, unless reg sets them, and gw's health check).
func registerRaw(t *testing.T, c *testenv.Consul, reg *api.AgentServiceRegistration, gw *testenv.Gateway) {
	t.Helper()
	if err := tryRegister(c, reg, gw); err != nil {
		t.Fatalf("register %.40q: %v", reg.ID, err)
	}
}

func tryRegister(c *testenv.Consul, reg *api.AgentServiceRegistration, gw *testenv.Gateway) error {
	reg.Name = "gateway"
	if reg.Address == "" {
		reg.Address = "127.0.0.1"
	}
	if reg.Port == 0 {
		reg.Port = gw.Addr.Port
	}
	reg.Check = &api.AgentServiceCheck{
		HTTP:     "http://" + gw.Addr.String() + "/health",
		Interval: "500ms", Timeout: "1s", Status: api.HealthPassing,
	}
	return c.Client.Agent().ServiceRegister(reg)
}

// checkBuiltinSafe checks what the built-in template made of the hostile
// instances: every server line is "server NAME IP:PORT check" with a
// name of at most 128 + 9 bytes of HAProxy's characters, the good
// instances are there, and the bad addresses are left out by a comment.
func checkBuiltinSafe(t *testing.T, cfg string, port int) {
	t.Helper()
	start := strings.Index(cfg, "backend gateway")
	if start < 0 {
		start = strings.Index(cfg, "listen gateway") // HAProxy 3.3+
	}
	if start < 0 {
		t.Fatalf("no backend gateway nor listen gateway in:\n%s", cfg)
	}
	backend := cfg[start:]
	guid := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,127}$`)
	names := map[string]bool{}
	for _, line := range strings.Split(backend, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "server" {
			continue
		}
		// From HAProxy 3.0 a server line ends with a guid.
		if len(f) == 6 && f[4] == "guid" && guid.MatchString(f[5]) {
			f = f[:4]
		}
		if len(f) != 4 || f[3] != "check" || len(f[1]) > 137 || strings.ContainsAny(f[1], "#;\"'\\") {
			t.Errorf("unsafe server line from the built-in template: %.200q", line)
		}
		if names[f[1]] {
			t.Errorf("server name %.60s twice", f[1])
		}
		names[f[1]] = true
	}
	for _, want := range []string{"gw-1", "gw-2", "evil", "id-newline_____http-request_deny", "id_blank_backup", "id_hash", "tags"} {
		if !names[want] {
			t.Errorf("the built-in template has no server %s", want)
		}
	}
	for _, id := range []string{"addr-blank", "addr-newline", "addr-host", "addr-10k"} {
		if !strings.Contains(backend, "    # left out "+id+" of service gateway: its address is not an IP address\n") {
			t.Errorf("the built-in template did not leave %s out with a comment", id)
		}
	}
	if strings.Contains(backend, "http-request deny") && !strings.Contains(backend, "server id-newline_____http-request_deny") {
		t.Error("an http-request rule was injected")
	}
	for _, bad := range []string{"\n    http-request", " backup", "no-such-host"} {
		if strings.Contains(backend, bad) {
			t.Errorf("the built-in template let %q through", bad)
		}
	}
}

// destVersions records every distinct content of a file seen while a
// poller reads it, so that each can be checked afterwards.
type destVersions struct {
	mu   sync.Mutex
	seen map[[32]byte][]byte
	list [][]byte
	done chan struct{}
	wg   sync.WaitGroup
}

func watchVersions(t *testing.T, path string) *destVersions {
	v := &destVersions{seen: map[[32]byte][]byte{}, done: make(chan struct{})}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		for {
			select {
			case <-v.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			b, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			h := sha256.Sum256(b)
			v.mu.Lock()
			if _, ok := v.seen[h]; !ok {
				v.seen[h] = b
				v.list = append(v.list, b)
			}
			v.mu.Unlock()
		}
	}()
	t.Cleanup(func() { v.stop() })
	return v
}

func (v *destVersions) stop() [][]byte {
	select {
	case <-v.done:
	default:
		close(v.done)
	}
	v.wg.Wait()
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.list
}

// haproxyCheck runs haproxy -c on cfg, written in dir (where its relative
// paths point).
func haproxyCheck(t *testing.T, bin, dir string, cfg []byte) error {
	p := filepath.Join(dir, fmt.Sprintf("check-%x.cfg", sha256.Sum256(cfg)))
	if err := os.WriteFile(p, cfg, 0o600); err != nil {
		return err
	}
	defer os.Remove(p)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, "-c", "-f", p).CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// frontendStatus is the status show stat gives the frontend (OPEN, STOP).
func frontendStatus(t *testing.T, sock, name string) string {
	t.Helper()
	out, err := (&haproxy.Runtime{Path: sock}).Command(t.Context(), "show stat")
	if err != nil {
		t.Fatal(err)
	}
	var status = -1
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		if strings.HasPrefix(line, "# ") {
			for i, h := range f {
				if h == "status" {
					status = i
				}
			}
			continue
		}
		if len(f) > status && status >= 0 && f[0] == name && f[1] == "FRONTEND" {
			return f[status]
		}
	}
	return "absent"
}

func showServers(t *testing.T, sock string) string {
	t.Helper()
	out, err := (&haproxy.Runtime{Path: sock}).Command(t.Context(), "show servers state gateway")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lineWith is the last log line holding s.
func lineWith(logs, s string) string {
	lines := strings.Split(logs, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	return ""
}
