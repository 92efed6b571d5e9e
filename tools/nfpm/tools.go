//go:build tools

// Package tools pins nfpm (MIT), which `make deb` builds from the Go module
// proxy into bin/nfpm (see install.sh beside this file).
package tools

import _ "github.com/goreleaser/nfpm/v2/cmd/nfpm"
