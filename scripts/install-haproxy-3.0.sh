#!/usr/bin/env bash
# install-3.0.sh DESTDIR: build HAProxy 3.0 LTS from Debian's source package
# (trixie) into DESTDIR/haproxy-3.0, unless it is already there. Debian's
# binary package on this release is 2.6; 3.0 lets the tests cover the 2.7+
# master CLI (a synchronous `reload` that answers `Success=1`).
set -euo pipefail
dest=${1:?usage: install-3.0.sh DESTDIR}
mkdir -p "$dest"; dest=$(cd "$dest" && pwd)
want=3.0.11
orig_sha=a133e2d550c5fd9a849b5c7ab17bb945bcdad209ca140d41f45ebf31943ae783
if [ -x "$dest/haproxy-3.0" ] && "$dest/haproxy-3.0" -v 2>/dev/null | grep "version $want" >/dev/null; then
  echo "haproxy $want already at $dest/haproxy-3.0"; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
src=/etc/apt/sources.list.d/haproxy-3.0-src.sources
if [ ! -f "$src" ]; then
  # Reuse the Debian archive this machine already uses for bookworm.
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '$2 !~ /security/ {print $2; exit}')
  [ -n "$uri" ] || uri=$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [ -n "$uri" ] || { echo "cannot find this machine's Debian archive in its apt sources" >&2; exit 1; }
  printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" >"$src"
fi
echo "apt-get update (with trixie deb-src) ..."
apt-get update -qq
apt-get install -y -qq build-essential libpcre2-dev libssl-dev >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# The orig tarball is all we need; apt may complain that a .dsc of a newer
# security revision is missing, so check the tarball itself instead.
apt-get source --download-only "haproxy=$want-1+deb13u4" >/dev/null 2>&1 || apt-get source --download-only haproxy >/dev/null 2>&1 || true
tarball=haproxy_$want.orig.tar.gz
[ -f "$tarball" ] || { echo "could not download $tarball from Debian's source packages" >&2; exit 1; }
echo "$orig_sha  $tarball" | sha256sum -c --quiet - || { echo "checksum mismatch for $tarball" >&2; exit 1; }
tar xzf "$tarball"
cd "haproxy-$want"
echo "building haproxy $want (about a minute on 2 cores) ..."
make -j"$(nproc)" TARGET=linux-glibc USE_OPENSSL=1 USE_PCRE2=1 USE_PROMEX=1 >build.log 2>&1 || { tail -20 build.log >&2; exit 1; }
install -m 0755 haproxy "$dest/haproxy-3.0"
"$dest/haproxy-3.0" -v | sed -n 1p
