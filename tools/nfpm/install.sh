#!/usr/bin/env bash
# install.sh DESTDIR: build nfpm (MIT; the version pinned in go.mod beside
# this script, served by the Go module proxy) into DESTDIR/nfpm, unless that
# binary already reports it. make deb packages harender with it. Works from a
# read-only copy of this folder: it builds in a temporary copy.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dest=${1:?usage: install.sh DESTDIR}
mkdir -p "$dest"; dest=$(cd "$dest" && pwd)

want=$(awk '$1 == "require" && $2 == "github.com/goreleaser/nfpm/v2" { print $3; exit }' "$here/go.mod")
[ -n "$want" ] || { echo "install.sh: no github.com/goreleaser/nfpm/v2 line in $here/go.mod" >&2; exit 1; }
have() { "$dest/nfpm" --version 2>/dev/null | awk '/^GitVersion:/ { print "v" $2 }'; }
if [ -x "$dest/nfpm" ] && [ "$(have)" = "$want" ]; then
  echo "nfpm $want already at $dest/nfpm"; exit 0
fi
command -v go >/dev/null || { echo "install.sh: the go command is not on PATH" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/go.mod" "$here/go.sum" "$here/tools.go" "$work/"
chmod u+w "$work"/*
cd "$work"
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=local
echo "building nfpm $want with $(go version | cut -d' ' -f3) into $dest/nfpm"
start=$(date +%s)
# nfpm's --version reads main.version, as its release builds set it.
if ! go build -trimpath -ldflags "-s -w -X main.version=${want#v}" \
    -o "$work/nfpm" github.com/goreleaser/nfpm/v2/cmd/nfpm >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log" >&2
  echo "install.sh: go build failed" >&2
  exit 1
fi
cp "$work/nfpm" "$dest/.nfpm.tmp.$$"
chmod 0755 "$dest/.nfpm.tmp.$$"
mv -f "$dest/.nfpm.tmp.$$" "$dest/nfpm"
echo "built nfpm $(have) in $(( $(date +%s) - start ))s: $dest/nfpm ($(du -h "$dest/nfpm" | cut -f1))"
