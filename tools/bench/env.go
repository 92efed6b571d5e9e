package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"
)

// ports are fixed offsets from one base, so that a run's logs say which
// program listened where.
type ports struct{ base int }

func (p ports) consulHTTP() int    { return p.base + 500 }
func (p ports) consulServer() int  { return p.base + 300 } // +301, +302: Serf LAN/WAN
func (p ports) front() int         { return p.base + 80 }  // HAProxy's or Fabio's frontend
func (p ports) metrics() int       { return p.base + 120 } // harender's /metrics
func (p ports) fabioUI() int       { return p.base + 90 }
func (p ports) instance(i int) int { return p.base + i }   // gw-1 .. gw-9
func (p ports) serfLB() int        { return p.base + 400 } // the load balancer's agent; RPC +1
// serfAgent is the port of gw-i's k-th Serf agent (RPC +1): 8 in turn, so
// that a new agent starts while the last one is still leaving.
func (p ports) serfAgent(i, k int) int { return p.base + 600 + 20*i + 2*(k%8) }

// instance is one gateway instance: a process of this binary's "instance"
// subcommand, and with the Serf source, its own Serf agent.
type instance struct {
	id    string
	n     int
	port  int
	p     *proc
	serf  *proc // its latest Serf agent
	joins int   // Serf agents started for it
}

// env is one run's world: its folder, its programs, its member source.
type env struct {
	o      *options
	dir    string
	ps     *procs
	ports  ports
	src    source
	insts  []*instance
	consul *api.Client // nil with the Serf source
	// lbArgs and lbEnv are added to the load balancer's Serf agent (the
	// Serf event-handler stack sets its handler here).
	lbArgs, lbEnv []string
}

func (e *env) path(name string) string { return filepath.Join(e.dir, name) }

// startInstance starts (or restarts) gw-n's process and waits until it serves.
func (e *env) startInstance(in *instance) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	in.p, err = e.ps.start(in.id, nil, self, "instance", "-id", in.id, "-listen", "127.0.0.1:"+strconv.Itoa(in.port))
	if err != nil {
		return err
	}
	return waitFor(in.id+" listening", 5*time.Second, func() bool { return listening(in.port) })
}

func (e *env) newInstance(n int) (*instance, error) {
	in := &instance{id: fmt.Sprintf("gw-%d", n), n: n, port: e.ports.instance(n)}
	e.insts = append(e.insts, in)
	return in, e.startInstance(in)
}

// setHealth makes in's health check pass or fail.
func (e *env) setHealth(in *instance, ok bool) error {
	verb := "fail"
	if ok {
		verb = "pass"
	}
	return post(fmt.Sprintf("http://127.0.0.1:%d/%s", in.port, verb))
}

// crash kills in's process with SIGKILL, and with the Serf source its agent.
func (e *env) crash(in *instance) {
	in.p.signal(syscall.SIGKILL)
	<-in.p.done
	e.src.crash(in)
}

// restart starts a crashed instance again, on the same port.
func (e *env) restart(in *instance) error {
	if err := e.startInstance(in); err != nil {
		return err
	}
	return e.src.restart(in)
}

// source is where the proxy learns its members from.
type source interface {
	start(e *env) error
	join(in *instance) error  // a new instance: registered / its agent joins
	leave(in *instance) error // deregistered / its agent leaves gracefully
	crash(in *instance)       // after its process died
	restart(in *instance) error
}

// consulSource: a Consul dev agent; the harness registers each instance with
// an HTTP check of its /health every 500 ms.
type consulSource struct{ e *env }

func (c *consulSource) start(e *env) error {
	c.e = e
	p := e.ports
	_, err := e.ps.start("consul", nil, e.o.consul, "agent", "-dev", "-node", "bench",
		"-bind", "127.0.0.1", "-client", "127.0.0.1", "-log-level", "warn",
		"-http-port", strconv.Itoa(p.consulHTTP()), "-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1",
		"-server-port", strconv.Itoa(p.consulServer()), "-serf-lan-port", strconv.Itoa(p.consulServer()+1),
		"-serf-wan-port", strconv.Itoa(p.consulServer()+2))
	if err != nil {
		return err
	}
	cfg := api.DefaultConfig()
	cfg.Address = "127.0.0.1:" + strconv.Itoa(p.consulHTTP())
	if e.consul, err = api.NewClient(cfg); err != nil {
		return err
	}
	return waitFor("consul leader", 30*time.Second, func() bool {
		l, err := e.consul.Status().Leader()
		return err == nil && l != ""
	})
}

func (c *consulSource) join(in *instance) error { return c.register(in, 1) }

// register registers in with its check and a passing weight.
func (c *consulSource) register(in *instance, weight int) error {
	return c.e.consul.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: in.id, Name: "gateway", Address: "127.0.0.1", Port: in.port,
		Tags:    []string{"urlprefix-/"}, // Fabio's route; the others ignore it
		Weights: &api.AgentWeights{Passing: weight, Warning: 1},
		Check: &api.AgentServiceCheck{
			HTTP:     fmt.Sprintf("http://127.0.0.1:%d/health", in.port),
			Interval: "500ms", Timeout: "1s", Status: api.HealthPassing,
		},
	})
}

// maintenance puts in into Consul's maintenance mode or takes it out: a
// critical check added or removed by one Consul write, so that a check
// failing and passing is timed from the write, not from a check interval.
func (c *consulSource) maintenance(in *instance, on bool) error {
	if on {
		return c.e.consul.Agent().EnableServiceMaintenance(in.id, "bench")
	}
	return c.e.consul.Agent().DisableServiceMaintenance(in.id)
}

func (c *consulSource) leave(in *instance) error { return c.e.consul.Agent().ServiceDeregister(in.id) }
func (c *consulSource) crash(*instance)          {}
func (c *consulSource) restart(*instance) error  { return nil } // still registered; its check passes again

// serfSource: a Serf agent on the load balancer (lb), and one per instance
// with tags role=gateway and port=N, joining lb. Default (LAN) timing.
type serfSource struct{ e *env }

func (s *serfSource) start(e *env) error {
	s.e = e
	args := append([]string{"agent", "-node", "lb", "-bind", addr(e.ports.serfLB()),
		"-rpc-addr", addr(e.ports.serfLB() + 1), "-tag", "role=lb", "-log-level", "warn"}, e.lbArgs...)
	if _, err := e.ps.start("serf-lb", e.lbEnv, e.o.serf, args...); err != nil {
		return err
	}
	return waitFor("serf lb rpc", 10*time.Second, func() bool { return listening(e.ports.serfLB() + 1) })
}

// join starts a new agent for in, named gw-N.K for its K-th join: a
// graceful leave takes about a second, and one node name cannot run twice,
// so a join does not wait for the last agent to be gone (nor would a new
// host). The probes know an instance by its reply, not by the node name.
func (s *serfSource) join(in *instance) error {
	in.joins++
	port := s.e.ports.serfAgent(in.n, in.joins)
	node := fmt.Sprintf("%s.%d", in.id, in.joins)
	var err error
	in.serf, err = s.e.ps.start("serf-"+node, nil, s.e.o.serf, "agent", "-node", node,
		"-bind", addr(port), "-rpc-addr", addr(port+1), "-log-level", "warn",
		"-tag", "role=gateway", "-tag", "port="+strconv.Itoa(in.port), "-join", addr(s.e.ports.serfLB()))
	return err
}

// leave is a graceful leave: SIGINT makes the agent broadcast its leave.
func (s *serfSource) leave(in *instance) error {
	in.serf.signal(syscall.SIGINT)
	return nil
}

func (s *serfSource) crash(in *instance) {
	in.serf.signal(syscall.SIGKILL)
	<-in.serf.done
}

func (s *serfSource) restart(in *instance) error { return s.join(in) }

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// served asks the frontend until every one of ids has answered, up to timeout.
func served(front int, ids []string, timeout time.Duration) error {
	seen := map[string]bool{}
	c := &http.Client{Timeout: time.Second}
	err := waitFor("frontend serving "+strings.Join(ids, ", "), timeout, func() bool {
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", front))
		if err == nil {
			id, _ := readID(resp)
			seen[id] = true
		}
		for _, id := range ids {
			if !seen[id] {
				return false
			}
		}
		return true
	})
	return err
}
