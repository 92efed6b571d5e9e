package haproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrProcessExited marks an HAProxy that exited before it was ready.
var ErrProcessExited = errors.New("haproxy exited")

const (
	// tailLines is how many lines of output a Process keeps for errors.
	tailLines = 20
	// maxLineBytes caps one kept line; the rest of a longer line is dropped
	// (but still read, so that HAProxy never blocks on a full pipe).
	maxLineBytes = 4096
	// readyPoll is the pause between two `show proc` probes during start.
	readyPoll = 20 * time.Millisecond
	// termGrace is how long Stop waits after SIGTERM before SIGKILL.
	termGrace = 2 * time.Second
	// drainGrace is how long Stop waits for the output pipe to reach EOF
	// once the group is dead, before closing it under the reader.
	drainGrace = time.Second
)

// ProcessOptions says how to run HAProxy:
// Binary -W -S MasterSocket -f Config [-p PIDFile].
type ProcessOptions struct {
	Binary, Config, MasterSocket string
	// PIDFile is optional.
	PIDFile string
	// OnLine, when set, is called with each line HAProxy prints on stdout
	// or stderr, in order, from a single goroutine. It must not block.
	OnLine func(line string)
}

// Process is an HAProxy master started by StartProcess.
type Process struct {
	cmd      *exec.Cmd
	out      *os.File      // read end of the stdout+stderr pipe
	done     chan struct{} // closed once the master has been waited for
	drained  chan struct{} // closed once the output pipe reached EOF
	exitErr  error         // Wait's result, written before done is closed
	stopOnce sync.Once
	stopErr  error

	mu   sync.Mutex
	tail []string
}

// StartProcess starts HAProxy in master-worker mode, in its own process
// group, and waits until the master CLI answers `show proc` with this
// master's PID and at least one worker, or the process exits, or ctx ends.
// A process that exits first gives an error wrapping ErrProcessExited that
// quotes its last lines of output; when ctx ends first the process is
// stopped. ctx bounds only the start, not the process's life, which is why
// the command is not an exec.CommandContext.
func StartProcess(ctx context.Context, o ProcessOptions) (*Process, error) {
	if o.Binary == "" || o.Config == "" || o.MasterSocket == "" {
		return nil, fmt.Errorf("start haproxy: binary, config and master socket are all required")
	}
	args := []string{"-W", "-S", o.MasterSocket, "-f", o.Config}
	if o.PIDFile != "" {
		args = append(args, "-p", o.PIDFile)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start haproxy: output pipe: %w", err)
	}
	cmd := exec.Command(o.Binary, args...)
	// One pipe for both streams keeps HAProxy's lines in the order it wrote them.
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start haproxy %s: %w", o.Binary, err)
	}
	w.Close() // the children hold the write end now; EOF comes when the last one exits
	p := &Process{cmd: cmd, out: r, done: make(chan struct{}), drained: make(chan struct{})}
	go p.read(r, o.OnLine)
	go func() {
		p.exitErr = cmd.Wait()
		close(p.done)
	}()
	if err := p.awaitReady(ctx, o.MasterSocket); err != nil {
		return nil, fmt.Errorf("start haproxy -f %s: %w", o.Config, errors.Join(err, p.Stop(0)))
	}
	return p, nil
}

// awaitReady polls `show proc` until this master lists a worker.
func (p *Process) awaitReady(ctx context.Context, socket string) error {
	// A short Retry: the loop below does the waiting, so that an exit or
	// the end of ctx is noticed between probes.
	m := &Master{Path: socket, Retry: 50 * time.Millisecond}
	var last error
	for {
		probe, cancel := context.WithTimeout(ctx, time.Second)
		procs, err := m.ShowProc(probe)
		cancel()
		switch {
		case err != nil:
			last = err
		case procs.Master.PID != p.PID():
			// A stale HAProxy still answers on this socket.
			last = fmt.Errorf("%s is answered by master %d, not %d", socket, procs.Master.PID, p.PID())
		case len(procs.Workers) == 0:
			last = fmt.Errorf("master %d has no worker yet", p.PID())
		default:
			// 3.1+ lists a worker while it still loads its config (and
			// may yet fail to bind); it answers the master's @1 only
			// once it is ready.
			if last = workerAnswers(ctx, m); last == nil {
				return nil
			}
		}
		select {
		case <-p.done:
			p.awaitDrained(drainGrace)
			return fmt.Errorf("%w before it was ready (%v):\n%s", ErrProcessExited, p.exitErr, p.Tail())
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last: %w); output:\n%s", ctx.Err(), last, p.Tail())
		case <-time.After(readyPoll):
		}
	}
}

// workerAnswers asks the current worker for `show info` through the master.
func workerAnswers(ctx context.Context, m *Master) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	reply, err := m.Command(ctx, "@1 show info")
	if err == nil && !strings.Contains(reply, "\nPid: ") && !strings.HasPrefix(reply, "Pid: ") {
		err = fmt.Errorf("the worker is not ready yet (@1 show info: %q)", firstLine(reply))
	}
	return err
}

// read copies HAProxy's output lines into the tail and to onLine until EOF.
func (p *Process) read(r io.ReadCloser, onLine func(string)) {
	defer close(p.drained)
	defer r.Close()
	br := bufio.NewReader(r)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line) < maxLineBytes {
			line = append(line, chunk[:min(len(chunk), maxLineBytes-len(line))]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) > 0 {
			s := strings.TrimRight(string(line), "\r\n")
			p.keep(s)
			if onLine != nil {
				onLine(s)
			}
			line = line[:0]
		}
		if err != nil {
			return
		}
	}
}

// keep appends a line to the tail, dropping the oldest beyond tailLines.
func (p *Process) keep(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tail) == tailLines {
		copy(p.tail, p.tail[1:])
		p.tail = p.tail[:tailLines-1]
	}
	p.tail = append(p.tail, line)
}

// PID is the master's process id, which is also its process group id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the master has exited (and has been reaped).
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr is the master's exit status as exec.Cmd.Wait reports it; it is
// nil until Done is closed, and nil after a clean exit.
func (p *Process) ExitErr() error {
	select {
	case <-p.done:
		return p.exitErr
	default:
		return nil
	}
}

// Tail returns the last lines HAProxy printed (up to 20), joined by "\n".
func (p *Process) Tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// Stop soft-stops HAProxy: SIGUSR1 to the master, which lets the workers
// finish their connections, and up to timeout for it to exit. Then SIGTERM
// to the whole process group, and SIGKILL after a short grace, so that no
// worker outlives the call. It waits for the master and for the output
// pipe. It returns an error when the soft stop did not finish in time or a
// signal could not be sent; calling it again returns the same result.
func (p *Process) Stop(timeout time.Duration) error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(timeout) })
	return p.stopErr
}

func (p *Process) stop(timeout time.Duration) error {
	pid := p.PID()
	var errs []error
	if !p.exited() && timeout > 0 {
		if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("soft stop haproxy %d: %w", pid, err))
		} else if !p.waitDone(timeout) {
			errs = append(errs, fmt.Errorf("soft stop haproxy %d: still running after %s; terminating its process group", pid, timeout))
		}
	}
	// The group may hold workers or programs even once the master is gone.
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		errs = append(errs, fmt.Errorf("terminate haproxy group %d: %w", pid, err))
	}
	p.waitDone(termGrace)
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		errs = append(errs, fmt.Errorf("kill haproxy group %d: %w", pid, err))
	}
	<-p.done
	// Orphaned workers are not our children: wait for the kernel to remove them.
	for deadline := time.Now().Add(termGrace); time.Now().Before(deadline); {
		if err := syscall.Kill(-pid, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !p.awaitDrained(drainGrace) {
		// Something outside the group holds the pipe; stop reading it.
		_ = p.out.Close() // unblocks the reader, which closes it again
		<-p.drained
	}
	return errors.Join(errs...)
}

// exited reports whether Done is closed.
func (p *Process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitDone waits up to d for the master to exit and reports whether it did.
func (p *Process) waitDone(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// awaitDrained waits up to d for the output pipe's EOF and reports whether it came.
func (p *Process) awaitDrained(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.drained:
		return true
	case <-t.C:
		return false
	}
}
