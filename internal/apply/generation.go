package apply

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"

	"github.com/harender/harender/haproxy"
)

// generation is one version of what HAProxy should run: its main config
// and the companion files the config names (maps, ACL files, errorfiles).
type generation struct {
	config []byte
	parsed *haproxy.Config // nil when harender's parser cannot read it: then every change reloads
	files  map[string][]byte
	hash   string
}

// newGeneration builds the generation of outs for HAProxy config path.
// It is nil when no output is HAProxy's config.
func newGeneration(config string, outs []Output) *generation {
	var g *generation
	for _, o := range outs {
		if o.Dest == config {
			g = &generation{config: o.Data, files: map[string][]byte{}}
		}
	}
	if g == nil {
		return nil
	}
	for _, o := range outs {
		if o.Dest != config && bytes.Contains(g.config, []byte(o.Dest)) {
			g.files[o.Dest] = o.Data
		}
	}
	g.parsed, _ = haproxy.ParseConfig(g.config)
	g.hash = hashOf(g.config, g.files)
	return g
}

// hashOf names a config with its companion files.
func hashOf(config []byte, files map[string][]byte) string {
	h := sha256.New()
	h.Write(config)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		h.Write([]byte{0})
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write(files[p])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// short is a hash short enough for logs.
func (g *generation) short() string { return g.hash[:12] }

// shortHash names content in logs.
func shortHash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:6])
}
