// Command harender keeps HAProxy in step with Consul: it renders
// consul-template-compatible templates into haproxy.cfg, checks each
// candidate with haproxy -c, swaps it in atomically and reloads HAProxy
// without dropping requests.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, as diff(1) for the first three.
const (
	exitOK          = 0
	exitDiff        = 1 // render --dry-run found differences
	exitConfig      = 2 // usage, config, template or haproxy -c error
	exitUnreachable = 3 // Consul or HAProxy could not be reached, or a reload not confirmed
)

func main() {
	setGCDefault()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "harender: %v\n", ee.err)
		}
		return ee.code
	}
	// Anything else comes from flag parsing: a usage error.
	fmt.Fprintf(stderr, "harender: %v\n", err)
	return exitConfig
}

// exitError carries the exit code for an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: code, err: err}
}
