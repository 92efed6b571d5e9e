#!/usr/bin/env bash
# install.sh DESTDIR: build HashiCorp consul-template v0.42.1 (MPL-2.0, served
# by the Go module proxy) into DESTDIR/consul-template, unless that binary
# already reports v0.42.1. The compatibility test (cmd/harender/compat_test.go)
# renders testdata/compat/*.tmpl with it and with harender and compares bytes.
# Needs only the go command (go1.26.4 or newer: consul-template's go.mod says
# so) and the module proxy.
set -euo pipefail
version=v0.42.1
dest=${1:?usage: install.sh DESTDIR}
mkdir -p "$dest"; dest=$(cd "$dest" && pwd)

if [ -x "$dest/consul-template" ] && "$dest/consul-template" -v 2>&1 | grep -F "consul-template $version " >/dev/null; then
  echo "consul-template $version already at $dest/consul-template"; exit 0
fi
command -v go >/dev/null || { echo "install.sh: the go command is not on PATH" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" # outside any module, so that go install uses consul-template's own go.mod
# The go command on PATH builds it, whatever toolchain the caller exported;
# CGO off gives a static binary, as upstream releases are.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN="$work/bin"
echo "building consul-template $version with $(go version | cut -d' ' -f3) into $dest/consul-template"
start=$(date +%s)
if ! go install -trimpath -ldflags "-s -w" "github.com/hashicorp/consul-template@$version" >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log" >&2
  echo "install.sh: go install failed" >&2
  exit 1
fi
got=$("$work/bin/consul-template" -v 2>&1 | sed -n 1p)
case "$got" in
  "consul-template $version "*) ;;
  *) echo "install.sh: built binary says '$got', expected consul-template $version" >&2; exit 1 ;;
esac
cp "$work/bin/consul-template" "$dest/.consul-template.tmp.$$"
chmod 0755 "$dest/.consul-template.tmp.$$"
mv -f "$dest/.consul-template.tmp.$$" "$dest/consul-template"
echo "built $got in $(( $(date +%s) - start ))s: $dest/consul-template ($(du -h "$dest/consul-template" | cut -f1))"
