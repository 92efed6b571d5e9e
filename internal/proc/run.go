// Package proc runs a program with a deadline that holds: in a process
// group of its own, killed whole when ctx ends, and with any child it left
// behind killed once it exits, so that no child can keep its output pipes,
// and the caller, waiting.
package proc

import (
	"context"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// WaitDelay is how long output pipes stay open after the program exits or
// is killed.
const WaitDelay = time.Second

// Run runs argv until it exits or ctx ends. Its error is exec's: an
// *exec.ExitError, exec.ErrWaitDelay when a child held the output after
// the program exited, or ctx's error after a kill.
func Run(ctx context.Context, argv []string, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = WaitDelay
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what it left behind
	}
	return err
}
