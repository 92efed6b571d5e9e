package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Wrk is a running wrk, the HTTP load generator.
type Wrk struct {
	cmd  *exec.Cmd
	out  *LockedBuffer
	done chan error // receives cmd's exit
}

// StartWrk runs wrk with args ($WRK_BIN, else wrk on $PATH). Locally a
// missing wrk skips the test; under CI=true it fails it. A wrk still
// running when the test ends is killed.
//
// Unless args set --timeout, an answer counts as timed out after 10s, not
// wrk's 2s: on a shared 2-core machine a request now and then waits over
// 2s for the CPU during a reload, and the tests assert that no request is
// lost, not a speed.
func StartWrk(t testing.TB, args ...string) *Wrk {
	t.Helper()
	bin := Require(t, "wrk", os.Getenv("WRK_BIN"), "wrk")
	if !slices.Contains(args, "--timeout") {
		args = append([]string{"--timeout", "10s"}, args...)
	}
	w := &Wrk{cmd: exec.Command(bin, args...), out: &LockedBuffer{}, done: make(chan error, 1)}
	w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start wrk: %v", err)
	}
	go func() { w.done <- w.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case err := <-w.done:
			w.done <- err
		default:
			_ = w.cmd.Process.Kill()
			<-w.done
		}
	})
	return w
}

// Wait waits for wrk to finish and parses what it printed.
func (w *Wrk) Wait(ctx context.Context) (WrkResult, error) {
	select {
	case err := <-w.done:
		w.done <- err
		if err != nil {
			return WrkResult{}, fmt.Errorf("wrk: %w\n%s", err, w.out)
		}
		return ParseWrk(w.out.String())
	case <-ctx.Done():
		return WrkResult{}, fmt.Errorf("wrk: %w\n%s", ctx.Err(), w.out)
	}
}

// WrkResult is wrk's summary.
type WrkResult struct {
	Requests int           // requests completed, "N requests in D"
	Duration time.Duration // the D of that line
	// Socket errors, 0 when wrk printed no "Socket errors" line.
	Connect, Read, Write, Timeout int
	// Non2xx counts replies that were neither 2xx nor 3xx.
	Non2xx int
	// Latency holds the --latency distribution ("50%", "99%", ...); nil
	// without --latency.
	Latency map[string]time.Duration
	Output  string // what wrk printed, for failure reports
}

// Failed is every request that failed: socket errors and non-2xx/3xx
// replies.
func (r WrkResult) Failed() int { return r.Connect + r.Read + r.Write + r.Timeout + r.Non2xx }

func (r WrkResult) String() string {
	return fmt.Sprintf("%d requests in %s (%.0f/s); socket errors: connect %d, read %d, write %d, timeout %d; non-2xx/3xx %d; latency p50 %s p99 %s",
		r.Requests, r.Duration, float64(r.Requests)/r.Duration.Seconds(), r.Connect, r.Read, r.Write, r.Timeout, r.Non2xx,
		r.Latency["50%"], r.Latency["99%"])
}

var (
	wrkRequestsRE = regexp.MustCompile(`(?m)^\s*(\d+) requests in (\S+), `)
	wrkSocketRE   = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$`)
	wrkNon2xxRE   = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses: (\d+)\s*$`)
	wrkLatencyRE  = regexp.MustCompile(`(?m)^\s*(\d+%)\s+(\S+)\s*$`)
)

// ParseWrk parses the summary wrk 4 prints (src/wrk.c): the "requests in"
// line, and the "Socket errors" and "Non-2xx or 3xx responses" lines,
// which it prints only when they are not zero.
func ParseWrk(out string) (WrkResult, error) {
	r := WrkResult{Output: out}
	m := wrkRequestsRE.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk printed no %q line:\n%s", "N requests in D", out)
	}
	r.Requests, _ = strconv.Atoi(m[1])
	d, err := time.ParseDuration(m[2])
	if err != nil {
		return r, fmt.Errorf("wrk duration %q: %w", m[2], err)
	}
	r.Duration = d
	if m := wrkSocketRE.FindStringSubmatch(out); m != nil {
		r.Connect, _ = strconv.Atoi(m[1])
		r.Read, _ = strconv.Atoi(m[2])
		r.Write, _ = strconv.Atoi(m[3])
		r.Timeout, _ = strconv.Atoi(m[4])
	} else if strings.Contains(out, "Socket errors") {
		return r, fmt.Errorf("wrk's Socket errors line does not parse:\n%s", out)
	}
	if m := wrkNon2xxRE.FindStringSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.Atoi(m[1])
	} else if strings.Contains(out, "Non-2xx") {
		return r, fmt.Errorf("wrk's Non-2xx line does not parse:\n%s", out)
	}
	for _, m := range wrkLatencyRE.FindAllStringSubmatch(out, -1) {
		d, err := time.ParseDuration(m[2])
		if err != nil {
			return r, fmt.Errorf("wrk latency %s %q: %w", m[1], m[2], err)
		}
		if r.Latency == nil {
			r.Latency = map[string]time.Duration{}
		}
		r.Latency[m[1]] = d
	}
	return r, nil
}
