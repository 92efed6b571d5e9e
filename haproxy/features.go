package haproxy

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Version is an HAProxy release. The zero Version is "unknown", and has
// no feature.
type Version struct {
	Major, Minor, Patch int
}

// String is "MAJOR.MINOR.PATCH", or "" for the zero Version.
func (v Version) String() string {
	if v == (Version{}) {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// Feature is something of HAProxy's that harender or a template uses only
// where the running release has it. Code and templates ask for a feature,
// never compare version strings.
type Feature string

const (
	// FeatureGUID: the `guid` keyword on frontends, backends and servers.
	FeatureGUID Feature = "guid"
	// FeatureShmStats: the global `shm-stats-file`, which keeps the
	// counters of objects that have a guid across reloads.
	FeatureShmStats Feature = "shm-stats-file"
	// FeatureAddrPurgesIdle: `set server addr` drops the idle connections
	// to the old address (2.x keeps reusing them, so a move reloads).
	FeatureAddrPurgesIdle Feature = "addr-purges-idle"
	// FeatureRuntimeBackends: `add backend NAME from DEFAULTS`, `publish
	// backend`, `unpublish backend`, `wait be-removable`, `del backend`.
	// The management guide marks add and del experimental; 3.4.0 takes
	// them without `experimental-mode on`, which harender sends anyway.
	FeatureRuntimeBackends Feature = "add-backend"
	// FeatureUniqueProxyNames: a frontend and a backend may not share a
	// name ("no longer supported as of 3.3").
	FeatureUniqueProxyNames Feature = "unique-proxy-names"
)

// featureSince is the feature table: the first release that has each.
func featureSince() map[Feature]Version {
	return map[Feature]Version{
		FeatureGUID:             {Major: 3, Minor: 0},
		FeatureShmStats:         {Major: 3, Minor: 4},
		FeatureAddrPurgesIdle:   {Major: 3, Minor: 0},
		FeatureRuntimeBackends:  {Major: 3, Minor: 4},
		FeatureUniqueProxyNames: {Major: 3, Minor: 3},
	}
}

// Features lists every feature harender knows of.
func Features() []Feature {
	return []Feature{FeatureGUID, FeatureShmStats, FeatureAddrPurgesIdle, FeatureRuntimeBackends, FeatureUniqueProxyNames}
}

// Has reports whether release v has feature f. An unknown version has none.
func (v Version) Has(f Feature) bool {
	since, ok := featureSince()[f]
	return ok && v != (Version{}) && v.AtLeast(since.Major, since.Minor)
}

// ParseVersion reads a release from the start of s: "3.4.0-64a335366",
// "2.6.12-1+deb12u4", "3.4-dev12" (patch 0).
func ParseVersion(s string) (Version, error) {
	orig := s
	var v Version
	var ok1, ok2 bool
	v.Major, s, ok1 = leadingNumber(s)
	if r, ok := strings.CutPrefix(s, "."); ok {
		v.Minor, s, ok2 = leadingNumber(r)
	}
	if !ok1 || !ok2 {
		return Version{}, fmt.Errorf("haproxy version %q: want MAJOR.MINOR", orig)
	}
	if r, ok := strings.CutPrefix(s, "."); ok {
		if p, _, ok := leadingNumber(r); ok {
			v.Patch = p
		}
	}
	return v, nil
}

// binaryVersionTimeout bounds `haproxy -v`, which answers in milliseconds.
const binaryVersionTimeout = 5 * time.Second

// BinaryVersion runs `bin -v` and reads its "HAProxy version X.Y.Z" line
// (2.6 and later print "HAProxy", older ones "HA-Proxy").
func BinaryVersion(ctx context.Context, bin string) (Version, error) {
	ctx, cancel := context.WithTimeout(ctx, binaryVersionTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-v").Output()
	if err != nil {
		return Version{}, fmt.Errorf("%s -v: %w", bin, err)
	}
	return parseBinaryVersion(string(out))
}

// parseBinaryVersion reads the version from the output of `haproxy -v`.
func parseBinaryVersion(out string) (Version, error) {
	for _, line := range strings.Split(out, "\n") {
		for _, p := range [...]string{"HAProxy version ", "HA-Proxy version "} {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), p); ok {
				return ParseVersion(rest)
			}
		}
	}
	return Version{}, fmt.Errorf("haproxy -v: no version line in %q", firstLine(out))
}
