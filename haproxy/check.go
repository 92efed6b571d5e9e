package haproxy

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// CheckError is a configuration that `haproxy -c` rejected, with HAProxy's own output.
type CheckError struct {
	Path   string // the file that was checked
	Output string // HAProxy's combined output, trimmed
}

// Error quotes HAProxy's output, which names file:line of each problem.
func (e *CheckError) Error() string {
	return fmt.Sprintf("haproxy -c rejected %s:\n%s", e.Path, e.Output)
}

// Check validates the config file at path with `binary -c -f path`. It judges
// by exit status only (2.6 prints "Configuration file is valid", 3.0 prints
// nothing). A rejection, including exit 2 for a valid config without any
// listener, is a *CheckError; failing to run binary is another error.
func Check(ctx context.Context, binary, path string) error {
	// No -q: with it, 2.6 also hides the alerts that say what is wrong.
	cmd := exec.CommandContext(ctx, binary, "-c", "-f", path)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("check %s with %s: %w", path, binary, ctx.Err())
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		return &CheckError{Path: path, Output: strings.TrimSpace(string(out))}
	}
	return fmt.Errorf("check %s: run haproxy binary %q: %w", path, binary, err)
}
