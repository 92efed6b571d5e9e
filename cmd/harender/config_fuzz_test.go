package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzConfigFile feeds arbitrary HCL to the config loader: it must never
// panic, and every error must name the file.
func FuzzConfigFile(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/bad/*.hcl")
	seeds = append(seeds, "../../examples/demo/harender.hcl")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(t.TempDir(), "h.hcl")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := readConfigFile(path)
		if err == nil {
			cfg := defaultConfig()
			err = cfg.fromFile(p)
		}
		if err != nil && !strings.Contains(err.Error(), path) && !strings.Contains(err.Error(), "h.hcl") {
			t.Errorf("error does not name the file: %v", err)
		}
	})
}
