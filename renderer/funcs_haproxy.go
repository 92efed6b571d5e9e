package renderer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"text/template"
)

// HAProxyInfo is what a template learns of the HAProxy it renders for.
// cmd/harender fills it from `haproxy -v` of the configured binary, once
// per parse of the templates.
type HAProxyInfo struct {
	// Version is "3.4.0"; "" when unknown (no HAProxy configured, or
	// its binary did not say).
	Version string
	// Features holds every feature name harender knows (haproxy.Features),
	// true where this release has it. Nil: every feature is absent.
	Features map[string]bool
}

// guidMax is HAProxy's limit on a guid's length.
const guidMax = 127

// haproxyFuncs are the functions that let a template follow the HAProxy
// release: branch on features (haproxyHas), not on version strings.
func haproxyFuncs(h HAProxyInfo) template.FuncMap {
	return template.FuncMap{
		"haproxyVersion": func() string { return h.Version },
		"haproxyHas": func(name string) (bool, error) {
			has, ok := h.Features[name]
			if !ok && h.Features != nil {
				known := make([]string, 0, len(h.Features))
				for k := range h.Features {
					known = append(known, k)
				}
				slices.Sort(known)
				return false, fmt.Errorf("haproxyHas: unknown feature %q (known: %s)", name, strings.Join(known, ", "))
			}
			return has, nil
		},
		"haproxyGUID": haproxyGUID,
	}
}

// haproxyGUID makes a guid for an HAProxy object that stays the same as
// long as its names do: "KIND:PART:PART...", so ("srv", "api", "gw-1")
// gives "srv:api:gw-1". HAProxy allows 127 characters of [A-Za-z0-9._:-]
// and wants every guid unique across the config. A part that is empty,
// holds a ':' or another character a guid may not hold, or a result past
// 127 characters, gives "KIND::" and 32 hex digits of a sha256 of the
// parts instead; "::" never appears in the readable form, so the two
// forms cannot collide, and distinct parts give distinct guids.
func haproxyGUID(kind string, parts ...string) (string, error) {
	if kind == "" || len(kind) > 16 || !guidWord(kind) {
		return "", fmt.Errorf("haproxyGUID: kind %q: want 1 to 16 of [A-Za-z0-9._-]", kind)
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("haproxyGUID %s: no name to derive it from", kind)
	}
	g := kind + ":" + strings.Join(parts, ":")
	if len(g) <= guidMax && !slices.ContainsFunc(parts, func(p string) bool { return p == "" || !guidWord(p) }) {
		return g, nil
	}
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p) // length-prefixed: ("a:b") and ("a", "b") differ
	}
	return kind + "::" + hex.EncodeToString(h.Sum(nil))[:32], nil
}

// guidWord reports whether s holds only [A-Za-z0-9._-]: what a guid may
// hold, less the ':' that separates parts.
func guidWord(s string) bool {
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}
