#!/usr/bin/env bash
# install.sh DESTDIR: build Fabio v1.6.3 (MIT, served by the Go module proxy)
# into DESTDIR/fabio, unless that binary already reports 1.6.3. make compare
# runs it as one of the peers harender is measured against.
#
# `go install github.com/fabiolb/fabio@v1.6.3` fails (the proxy refuses the
# version list and sum.golang.org has no entry), so this builds the wrapper
# module beside this script, which requires fabio v1.6.3 and imports it from
# tools.go, with GONOSUMDB for fabio and -mod=mod.
set -euo pipefail
version=1.6.3
dest=${1:?usage: install.sh DESTDIR}
mkdir -p "$dest"; dest=$(cd "$dest" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

if [ -x "$dest/fabio" ] && "$dest/fabio" -v 2>&1 | grep -F "$version" >/dev/null; then
  echo "fabio $version already at $dest/fabio"; exit 0
fi
command -v go >/dev/null || { echo "install.sh: the go command is not on PATH" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=local CGO_ENABLED=0 GONOSUMDB=github.com/fabiolb/fabio GOFLAGS="-mod=mod -buildvcs=false"
echo "building fabio $version with $(go version | cut -d' ' -f3) into $dest/fabio"
start=$(date +%s)
# Fabio prints its version from main.version, which a module build leaves
# empty: set it, so that the check above and `fabio -v` say what was built.
if ! (cd "$here" && go build -trimpath -ldflags "-s -w -X main.version=$version" \
      -o "$work/fabio" github.com/fabiolb/fabio) >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log" >&2
  echo "install.sh: go build failed" >&2
  exit 1
fi
got=$("$work/fabio" -v 2>&1 | sed -n 1p)
case "$got" in
  *"$version"*) ;;
  *) echo "install.sh: built binary says '$got', expected fabio $version" >&2; exit 1 ;;
esac
cp "$work/fabio" "$dest/.fabio.tmp.$$"
chmod 0755 "$dest/.fabio.tmp.$$"
mv -f "$dest/.fabio.tmp.$$" "$dest/fabio"
echo "built fabio $got in $(( $(date +%s) - start ))s: $dest/fabio ($(du -h "$dest/fabio" | cut -f1))"
