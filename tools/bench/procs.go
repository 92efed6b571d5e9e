package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a program the harness started, in a process group of its own,
// its output in DIR/NAME.log.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// procs remembers every program a run started, so that all are stopped.
type procs struct {
	dir    string
	list   []*proc
	byName map[string]*proc // the latest of each name
}

// cpu is the CPU time of the named program so far, with that of the
// children it has waited for (haproxy -c, reload scripts); -1 if unknown.
func (ps *procs) cpu(name string) time.Duration {
	own, children := ps.cpuParts(name)
	if own < 0 {
		return -1
	}
	return own + children
}

// cpuParts is the named program's own CPU time and that of the children it
// has waited for; -1, -1 if unknown.
func (ps *procs) cpuParts(name string) (own, children time.Duration) {
	p := ps.byName[name]
	if p == nil || p.exited() {
		return -1, -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return -1, -1
	}
	// Fields after the ")" that ends the command name: utime is the 12th,
	// then stime, cutime, cstime, in clock ticks (100 a second on Linux).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return -1, -1
	}
	var ticks [4]int64
	for i, v := range f[11:15] {
		ticks[i], _ = strconv.ParseInt(v, 10, 64)
	}
	tick := 10 * time.Millisecond
	return time.Duration(ticks[0]+ticks[1]) * tick, time.Duration(ticks[2]+ticks[3]) * tick
}

// start runs bin with args, env added to the harness's own.
func (ps *procs) start(name string, env []string, bin string, args ...string) (*proc, error) {
	f, err := os.OpenFile(filepath.Join(ps.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	ps.list = append(ps.list, p)
	if ps.byName == nil {
		ps.byName = map[string]*proc{}
	}
	ps.byName[name] = p
	return p, nil
}

// signal sends sig to p's process group.
func (p *proc) signal(sig syscall.Signal) { syscall.Kill(-p.cmd.Process.Pid, sig) }

// exited reports whether p has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM (or sig) and waits up to grace before SIGKILL.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	if p.exited() {
		return
	}
	p.signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.signal(syscall.SIGKILL)
		<-p.done
	}
}

// stopAll stops every program, newest first.
func (ps *procs) stopAll() {
	for i := len(ps.list) - 1; i >= 0; i-- {
		ps.list[i].stop(syscall.SIGTERM, 5*time.Second)
	}
	ps.list = nil
}

// killPIDFile kills the process whose pid is the first line of path, if any
// (an HAProxy master that a stack started and that outlived it).
func killPIDFile(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 1 {
		syscall.Kill(pid, syscall.SIGTERM)
	}
}

// waitFor polls ok every 50 ms until it holds or timeout passes.
func waitFor(what string, timeout time.Duration, ok func() bool) error {
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// listening reports whether something accepts TCP connections on port.
func listening(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// post sends an empty POST and reports a status other than 2xx as an error.
func post(url string) error {
	resp, err := http.Post(url, "text/plain", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}
