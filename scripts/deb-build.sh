#!/usr/bin/env bash
# deb-build.sh: build bin/harender_<version>_amd64.deb (make deb). The binary
# is static (CGO off), the man page comes from `harender man`, the package
# from packaging/nfpm.yaml with nfpm, which tools/nfpm/install.sh builds once
# into bin/ from the Go module proxy. Prints the .deb's path last.
# Version: 0.0.0~git<commit time>.<commit> (no tags yet); ~ sorts it before 0.0.0.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=$PWD/bin
GO=${GO:-go}

tools/nfpm/install.sh "$bin" >&2
commit=$(git rev-parse --short=12 HEAD)
when=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S HEAD)
export HARENDER_VERSION=${HARENDER_VERSION:-0.0.0~git$when.$commit}

mkdir -p "$bin/deb"
# -buildvcs=true: the version --version prints (a pseudo-version naming
# the commit), whatever GOFLAGS says.
CGO_ENABLED=0 "$GO" build -buildvcs=true -trimpath -ldflags "-s -w" -o "$bin/deb/harender" ./cmd/harender
"$bin/deb/harender" man | gzip -9n >"$bin/deb/harender.1.gz"

out=$bin/harender_${HARENDER_VERSION}_amd64.deb
rm -f "$out"
"$bin/nfpm" package --config packaging/nfpm.yaml --packager deb --target "$out" >&2
echo "$out"
