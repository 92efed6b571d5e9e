package main

import (
	"context"

	"github.com/harender/harender/haproxy"
	"github.com/harender/harender/renderer"
)

// haproxyInfo is what templates learn of the configured HAProxy through
// haproxyVersion and haproxyHas: the release `haproxy -v` of the
// configured binary prints, asked once per parse of the templates (at
// start, on SIGHUP, when a template file changes), so an upgraded binary
// is seen on the next SIGHUP. Where the binary does not answer, the
// version is unknown and every feature absent, and the error says why; a
// render for HAProxy then fails on its own at `haproxy -c`.
func haproxyInfo(ctx context.Context, binary string) (renderer.HAProxyInfo, error) {
	v, err := haproxy.BinaryVersion(ctx, binary)
	info := renderer.HAProxyInfo{Version: v.String(), Features: map[string]bool{}}
	for _, f := range haproxy.Features() {
		info.Features[string(f)] = v.Has(f)
	}
	return info, err
}
