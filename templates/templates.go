// Package templates holds harender's built-in templates, embedded in the
// binary. It is data, not logic.
package templates

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.tmpl
var files embed.FS

// Get returns the text of the built-in template called name.
func Get(name string) (string, error) {
	b, err := fs.ReadFile(files, name+".tmpl")
	if err != nil {
		return "", fmt.Errorf("no built-in template %q (have: %s)", name, strings.Join(Names(), ", "))
	}
	return string(b), nil
}

// Names lists the built-in templates.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".tmpl"))
	}
	sort.Strings(names)
	return names
}
