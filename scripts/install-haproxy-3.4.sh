#!/usr/bin/env bash
# install-haproxy-3.4.sh DESTDIR: build HAProxy 3.4.0 (LTS) into
# DESTDIR/haproxy-3.4, unless it is already there. Debian has no 3.4
# package for this release. The source is the tarball in ../shared/haproxy
# where that folder exists (CI, developers; sha256 pinned below), otherwise
# the 3.4.0 release from haproxy.org, checked against the sha256 published
# beside it. 3.4 adds `add backend` / `publish backend` / `del backend` at
# runtime and shm-stats-file (counters that survive a reload).
set -euo pipefail
dest=${1:?usage: install-haproxy-3.4.sh DESTDIR}
mkdir -p "$dest"; dest=$(cd "$dest" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
want=3.4.0
# sha256 of the git archive of tag v3.4.0 kept in ../shared/haproxy.
shared_sha=f89d477d69ccba24259a2d9bff8592dc5c59b8149b7a8fc80fc827b9e39e558f
shared=${HAPROXY_34_TARBALL:-$here/../../shared/haproxy/haproxy-$want.tar.gz}
url=https://www.haproxy.org/download/3.4/src/haproxy-$want.tar.gz
if [ -x "$dest/haproxy-3.4" ] && "$dest/haproxy-3.4" -v 2>/dev/null | grep "version $want" >/dev/null; then
  echo "haproxy $want already at $dest/haproxy-3.4"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -f "$shared" ]; then
  tarball=$shared
  echo "$shared_sha  $tarball" | sha256sum -c --quiet - || { echo "checksum mismatch for $tarball" >&2; exit 1; }
else
  tarball=$work/haproxy-$want.tar.gz
  echo "downloading $url ..."
  curl -fsSL -o "$tarball" "$url" || { echo "could not download $url" >&2; exit 1; }
  curl -fsSL -o "$tarball.sha256" "$url.sha256" || { echo "could not download $url.sha256" >&2; exit 1; }
  # The published file reads "<sha256>  haproxy-3.4.0.tar.gz".
  sum=$(awk 'NR==1 {print $1}' "$tarball.sha256")
  [[ $sum =~ ^[0-9a-f]{64}$ ]] || { echo "no sha256 in $url.sha256" >&2; exit 1; }
  echo "$sum  $tarball" | sha256sum -c --quiet - || { echo "checksum mismatch for $url" >&2; exit 1; }
fi
command -v cc >/dev/null && [ -f /usr/include/openssl/ssl.h ] && [ -f /usr/include/pcre2.h ] ||
  { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq build-essential libpcre2-dev libssl-dev >/dev/null; }
tar xzf "$tarball" -C "$work"
cd "$work/haproxy-$want"
echo "building haproxy $want (about 70 s on 2 cores) ..."
make -j"$(nproc)" TARGET=linux-glibc USE_OPENSSL=1 USE_PCRE2=1 USE_PROMEX=1 >build.log 2>&1 || { tail -20 build.log >&2; exit 1; }
install -m 0755 haproxy "$dest/haproxy-3.4"
"$dest/haproxy-3.4" -v | sed -n 1p
