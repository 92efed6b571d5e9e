package ha

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test binary runs itself inside a namespace as a helper: HA_HELPER
// says what to do. "probe ADDR": a new connection to ADDR every 10 ms, one
// GET each, a line per probe on stdout ("START_UNIX_NANO ok" or
// "START_UNIX_NANO fail ERROR"), until killed. "get URL": one GET, the
// body on stdout.
func TestMain(m *testing.M) {
	if h := os.Getenv("HA_HELPER"); h != "" {
		os.Exit(helper(strings.Fields(h)))
	}
	code := m.Run()
	if buildOnce.path != "" {
		os.RemoveAll(filepath.Dir(buildOnce.path))
	}
	os.Exit(code)
}

func helper(args []string) int {
	switch args[0] {
	case "probe":
		probeLoop(args[1], 10*time.Millisecond, probeTimeout)
		return 0
	case "get":
		body, err := get(args[1], 2*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Print(body)
		return 0
	}
	return 2
}

func probeLoop(addr string, every, timeout time.Duration) {
	out := make(chan string, 1024)
	go func() {
		w := bufio.NewWriter(os.Stdout)
		for line := range out {
			w.WriteString(line)
			if len(out) == 0 {
				w.Flush()
			}
		}
	}()
	tick := time.NewTicker(every)
	for range tick.C {
		go func(start time.Time) {
			err := probeOnce(addr, timeout)
			if err != nil {
				out <- fmt.Sprintf("%d fail %s\n", start.UnixNano(), strings.ReplaceAll(err.Error(), "\n", " "))
				return
			}
			out <- fmt.Sprintf("%d ok\n", start.UnixNano())
		}(time.Now())
	}
}

// probeOnce is one request on a new connection, answered 200 in time.
func probeOnce(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "HTTP/1.1 200") {
		return fmt.Errorf("status %q", strings.TrimSpace(line))
	}
	return nil
}

func get(url string, timeout time.Duration) (string, error) {
	addr, path, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	fmt.Fprintf(c, "GET /%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr)
	b, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	head, body, _ := strings.Cut(string(b), "\r\n\r\n")
	if !strings.HasPrefix(head, "HTTP/1.1 200") {
		return "", fmt.Errorf("GET %s: %s", url, strings.SplitN(head, "\r\n", 2)[0])
	}
	return body, nil
}

// helperCmd is the test binary run as a helper inside namespace ns.
func helperCmd(ctx context.Context, ns string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0])
	cmd.Env = append(os.Environ(), "HA_HELPER="+strings.Join(args, " "))
	return cmd
}

// getIn is GET url from inside ns.
func getIn(ns, url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := helperCmd(ctx, ns, "get", url).Output()
	return string(out), err
}

// probe is a running probe client and what it has seen.
type probe struct {
	mu  sync.Mutex
	all []sample
}

type sample struct {
	at  time.Time
	ok  bool
	err string
}

func startProbe(t *testing.T, ns, addr string) *probe {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := helperCmd(ctx, ns, "probe", addr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &probe{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.SplitN(sc.Text(), " ", 3)
			ns, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil || len(f) < 2 {
				continue
			}
			s := sample{at: time.Unix(0, ns), ok: f[1] == "ok"}
			if len(f) == 3 {
				s.err = f[2]
			}
			p.mu.Lock()
			p.all = append(p.all, s)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); cmd.Wait(); <-done })
	return p
}

// between is the samples that started in [from, to), in start order.
func (p *probe) between(from, to time.Time) []sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []sample
	for _, s := range p.all {
		if !s.at.Before(from) && s.at.Before(to) {
			out = append(out, s)
		}
	}
	// Probes finish out of order; sort by start.
	slices.SortFunc(out, func(a, b sample) int { return a.at.Compare(b.at) })
	return out
}
