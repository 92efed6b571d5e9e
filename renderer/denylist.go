package renderer

import (
	"fmt"
	"strings"
	"text/template"
)

// denyFuncs replaces every function of m whose name matches one of the
// patterns with one that fails, as consul-template's function_denylist
// does: a pattern is a name in which '*' matches any run of characters
// ("sprig_*" denies all of sprig). The template still parses; a denied
// function fails when it is called, naming itself, and the render fails
// with file:line:col, keeping the last good output.
func denyFuncs(m template.FuncMap, patterns []string) template.FuncMap {
	if len(patterns) == 0 {
		return m
	}
	for name := range m {
		for _, p := range patterns {
			if globMatch(p, name) {
				m[name] = deniedFunc(name)
				break
			}
		}
	}
	return m
}

// deniedFunc takes any arguments, so that it is the denial that fails a
// call and not a mismatch of types.
func deniedFunc(name string) func(...any) (string, error) {
	return func(...any) (string, error) {
		return "", fmt.Errorf("function %s is denied by function_denylist", name)
	}
}

// globMatch reports whether s matches pattern, where '*' matches any run
// of characters, none included, and every other character itself (the
// rules of github.com/ryanuber/go-glob, which consul-template uses).
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}
