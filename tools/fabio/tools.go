//go:build tools

// Package tools pins Fabio, the peer that make compare measures, so that
// `go build github.com/fabiolb/fabio` in this module builds v1.6.3.
package tools

import _ "github.com/fabiolb/fabio"
