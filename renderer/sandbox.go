package renderer

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"text/template"
)

// ErrOutsideSandbox marks a path that file or writeToFile may not use:
// once resolved, it is not under the template's sandbox_path.
var ErrOutsideSandbox = errors.New("outside of sandbox")

// resolveInSandbox returns path with its symlinks resolved, or
// ErrOutsideSandbox when that is not under sandbox. It is consul-template's
// resolveSandboxedPath (template/funcs.go), which file uses there: both
// paths are cleaned and their symlinks resolved before comparing, so that
// neither "../" nor a link inside the sandbox that points out of it gets
// through; a relative path is taken against the working directory, as
// without a sandbox. Where consul-template fails on a path that does not
// exist yet, the deepest part that exists is resolved and the rest joined
// to it: writeToFile creates files, and file waits for one to appear.
// With no sandbox the path is only cleaned.
func resolveInSandbox(sandbox, path string) (string, error) {
	if sandbox == "" {
		return filepath.Clean(path), nil
	}
	root, err := filepath.EvalSymlinks(filepath.Clean(sandbox))
	if err != nil {
		return "", fmt.Errorf("resolve sandbox_path: %w", err)
	}
	if root, err = filepath.Abs(root); err != nil {
		return "", fmt.Errorf("resolve sandbox_path: %w", err)
	}
	target, err := resolveExisting(path)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", path, err)
	}
	rel, err := filepath.Rel(root, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%q: %w %s", path, ErrOutsideSandbox, sandbox)
	}
	return target, nil
}

// resolveExisting makes path absolute and resolves the symlinks of its
// longest part that exists; the rest, which does not exist, can hold none.
func resolveExisting(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	rest := ""
	for dir := abs; ; dir = filepath.Dir(dir) {
		r, err := filepath.EvalSymlinks(dir)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) || dir == filepath.Dir(dir) {
			return "", err
		}
		rest = filepath.Join(filepath.Base(dir), rest)
	}
}

// sandboxFuncs binds file and writeToFile of m to the sandbox: a path
// outside it is refused before anything is read or written, and the
// path resolved is the one used, so that a link changed afterwards does
// not redirect the read (the file dependency is the resolved path, as in
// consul-template). plugin is not sandboxed, there as here: it runs a
// program, which can reach anything; deny it with function_denylist. Under
// NoExec (check) nothing is resolved: check needs no sandbox directory.
func sandboxFuncs(sandbox string, m template.FuncMap, noExec bool) template.FuncMap {
	if sandbox == "" || noExec {
		return m
	}
	if file, ok := m["file"].(func(string) (string, error)); ok {
		m["file"] = func(s string) (string, error) {
			if s == "" {
				return "", nil
			}
			p, err := resolveInSandbox(sandbox, strings.TrimSpace(s))
			if err != nil {
				return "", fmt.Errorf("file: %w", err)
			}
			return file(p)
		}
	}
	if write, ok := m["writeToFile"].(func(string, string, string, string, ...string) (string, error)); ok {
		m["writeToFile"] = func(path, owner, group, perms string, args ...string) (string, error) {
			p, err := resolveInSandbox(sandbox, path)
			if err != nil {
				return "", fmt.Errorf("writeToFile: %w", err)
			}
			return write(p, owner, group, perms, args...)
		}
	}
	return m
}
