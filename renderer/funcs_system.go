package renderer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/harender/harender/internal/proc"
)

// pluginTimeout is how long plugin lets a command run, as in consul-template.
const pluginTimeout = 30 * time.Second

// fnEnv returns env: the value of an environment variable, "" when unset.
func fnEnv(lookupEnv func(string) (string, bool)) func(string) (string, error) {
	return func(name string) (string, error) {
		v, _ := lookupEnv(name)
		return v, nil
	}
}

// fnMustEnv returns mustEnv: like env, but an unset or empty variable is an
// error.
func fnMustEnv(lookupEnv func(string) (string, bool)) func(string) (string, error) {
	return func(name string) (string, error) {
		v, _ := lookupEnv(name)
		if v == "" {
			return "", fmt.Errorf("required environment variable %s is empty", name)
		}
		return v, nil
	}
}

// fnEnvOrDefault returns envOrDefault: the variable's value if it is set,
// even to "", otherwise def.
func fnEnvOrDefault(lookupEnv func(string) (string, bool)) func(string, string) (string, error) {
	return func(name, def string) (string, error) {
		if v, ok := lookupEnv(name); ok {
			return v, nil
		}
		return def, nil
	}
}

// fnTimestamp returns timestamp: now in RFC 3339 with no argument, as Unix
// seconds with "unix", otherwise formatted with the argument as a Go time
// layout.
func fnTimestamp(now func() time.Time) func(...string) (string, error) {
	return func(s ...string) (string, error) {
		switch len(s) {
		case 0:
			return now().Format(time.RFC3339), nil
		case 1:
			if s[0] == "unix" {
				return strconv.FormatInt(now().Unix(), 10), nil
			}
			return now().Format(s[0]), nil
		default:
			return "", fmt.Errorf("timestamp: wrong number of arguments, expected 0 or 1"+
				", but got %d", len(s))
		}
	}
}

// execFuncs are the functions that reach outside the render: plugin runs
// a program, writeToFile writes a file, sockaddr reads the host's network
// (running `ip route` for the default interface). Under noExec they do
// none of that and give "", as a function whose data has not arrived does:
// check must need nothing and change nothing. sockaddr and writeToFile
// still check what they can without effects: the go-sockaddr expression,
// the permissions and the number of arguments.
// Under noWrite (render --dry-run) only writeToFile is held back: plugin
// and sockaddr give data that the diff must show.
func execFuncs(noExec, noWrite bool) template.FuncMap {
	if noExec {
		return template.FuncMap{
			"plugin":      func(string, ...string) (string, error) { return "", nil },
			"sockaddr":    checkSockaddr,
			"writeToFile": checkWriteToFile,
		}
	}
	m := template.FuncMap{
		"plugin":      fnPlugin,
		"sockaddr":    fnSockaddr,
		"writeToFile": fnWriteToFile,
	}
	if noWrite {
		m["writeToFile"] = checkWriteToFile
	}
	return m
}

// fnPlugin runs the command name with args (each trimmed of space, empty
// ones dropped; no shell involved) and returns its standard output, trimmed.
// It fails when the command fails or runs longer than 30 seconds. An empty
// name gives "".
func fnPlugin(name string, args ...string) (string, error) {
	if name == "" {
		return "", nil
	}
	var argv []string
	for _, a := range args {
		if a = strings.TrimSpace(a); a != "" {
			argv = append(argv, a)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), pluginTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	// A child that keeps the output pipes open must not hold up the render.
	err := proc.Run(ctx, append([]string{name}, argv...), &stdout, &stderr)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "", fmt.Errorf("exec %q: did not finish in 30s", name)
	}
	if err != nil {
		return "", fmt.Errorf("exec %q: %s\n\nstdout:\n\n%s\n\nstderr:\n\n%s",
			name, err, stdout.Bytes(), stderr.Bytes())
	}
	return strings.TrimSpace(stdout.String()), nil
}
