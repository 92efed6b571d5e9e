package main

import (
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// cmdJoin measures an instance joining and leaving, as gateways do: it
// registers with an HTTP check of its own (registered passing), so that
// Consul's checks query names its service. A join is served when the
// poller first gets the instance's answer; a leave when the answers that
// follow its last one are only the stable instance's, six in a row
// (HAProxy takes turns between the two while both are in).
func cmdJoin(args []string) error {
	fs := flag.NewFlagSet("join", flag.ExitOnError)
	addr := fs.String("consul", "127.0.0.1:28500", "Consul HTTP address")
	u := fs.String("url", "http://127.0.0.1:28081/", "HAProxy URL to poll")
	svc := fs.String("service", "rt", "service name")
	target := fs.String("target", "", "PORT=NAME of the instance that joins and leaves")
	n := fs.Int("n", 60, "joins (each followed by a leave)")
	gap := fs.Duration("gap", 300*time.Millisecond, "pause after a change is seen")
	every := fs.Duration("poll", 2*time.Millisecond, "poll interval")
	keepAlive := fs.Bool("keepalive", false, "poll over one kept connection (see poller)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up on one change after")
	logPath := fs.String("log", "", "harender JSON log")
	csvPath := fs.String("csv", "", "write per-change samples here (joins, then leaves)")
	fs.Parse(args)
	a, name, ok := strings.Cut(*target, "=")
	port, err := strconv.Atoi(a)
	if !ok || err != nil {
		return fmt.Errorf("bad -target %q: want PORT=NAME", *target)
	}
	c, err := consulClient(*addr)
	if err != nil {
		return err
	}
	id := *svc + "-join"
	reg := &api.AgentServiceRegistration{ID: id, Name: *svc, Address: "127.0.0.1", Port: port,
		Check: &api.AgentServiceCheck{HTTP: fmt.Sprintf("http://127.0.0.1:%d/health", port), Interval: "10s", Status: api.HealthPassing}}
	want := "hello from " + name + "\n"
	p := newPoller(*u, *every, *keepAlive)
	var joins, leaves []sample
	for i := 1; i <= *n; i++ {
		if err := c.Agent().ServiceRegister(reg); err != nil {
			return err
		}
		t0 := time.Now()
		polls, ok := p.until(t0.Add(*timeout), func(_ http.Header, body string) bool { return body == want })
		joins = append(joins, sample{i: i, putDone: t0, seen: time.Since(t0), ok: ok, polls: polls})
		if !ok {
			fmt.Printf("join %d: %s not served in %s\n", i, name, *timeout)
		}
		time.Sleep(*gap)

		if err := c.Agent().ServiceDeregister(id); err != nil {
			return err
		}
		t0 = time.Now()
		var first time.Time // the first answer since the leaver's last one
		run := 0
		polls, ok = p.until(t0.Add(*timeout), func(_ http.Header, body string) bool {
			if body == want {
				first, run = time.Time{}, 0
				return false
			}
			if run == 0 {
				first = time.Now()
			}
			run++
			return run == 6
		})
		leaves = append(leaves, sample{i: i, putDone: t0, seen: first.Sub(t0), ok: ok, polls: polls})
		if !ok {
			fmt.Printf("leave %d: %s still served after %s\n", i, name, *timeout)
		}
		time.Sleep(*gap)
	}
	time.Sleep(200 * time.Millisecond)
	msg := "applied through the runtime API"
	all := append(joins, leaves...)
	attachLog(all, *logPath, msg)
	report("join", joins, "", "")
	report("leave", leaves, "", "")
	if *csvPath != "" {
		report("all", all, *csvPath, msg)
	}
	return nil
}
