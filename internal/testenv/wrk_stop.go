package testenv

import (
	"context"
	"syscall"
)

// Stop ends a wrk started with a long -d early, as Ctrl-C does (wrk then
// prints its summary), and parses what it printed.
func (w *Wrk) Stop(ctx context.Context) (WrkResult, error) {
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	return w.Wait(ctx)
}
