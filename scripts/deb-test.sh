#!/usr/bin/env bash
# deb-test.sh: build the .deb (scripts/deb-build.sh), install it with dpkg
# on this machine, check what an operator would, and remove it again.
# Needs root, dpkg, haproxy (the package's Depends), man and systemd-analyze
# (.ci/run installs them). Run by make test; about 30 s once bin/nfpm is
# built (its first build takes minutes).
#
# Checks: the files are in place and /etc/harender/harender.hcl is a
# conffile; harender --version names the commit the package was built at;
# harender check passes on the shipped config; man harender shows the page;
# systemd-analyze verify passes on the installed unit; the installed binary
# started by hand as the unit starts it (with Consul unreachable, so that it
# renders nothing) serves /healthz 503 and leaves /etc/haproxy alone, then
# stops on SIGTERM with exit 0; with DEB_SYSTEMD=1, the unit under a real
# systemd (scripts/deb-systemd-test.sh); dpkg -r removes all but the conffile and
# dpkg --purge that too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$(date +%s)
fails=0
pass=0
ok()   { pass=$((pass + 1)); echo "ok:   $*"; }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else fail "$what"; fi; }

[ "$(id -u)" = 0 ] || { echo "deb-test.sh: needs root (dpkg -i)" >&2; exit 1; }
if dpkg-query -W -f='${Status}' harender 2>/dev/null | grep -q 'install ok installed'; then
  echo "deb-test.sh: a harender package is already installed here; dpkg -r harender first" >&2
  exit 1
fi
for cmd in dpkg haproxy man systemd-analyze curl; do
  command -v "$cmd" >/dev/null || { echo "deb-test.sh: $cmd is missing (.ci/run installs it)" >&2; exit 1; }
done

deb=$(scripts/deb-build.sh | tail -1)
# The commit the package was made at: the last part of its version.
commit=$(dpkg-deb -f "$deb" Version | sed 's/.*\.//')
echo "deb-test: $deb (built in $(( $(date +%s) - start ))s)"

cfg_sum=$(sha256sum /etc/haproxy/haproxy.cfg 2>/dev/null || echo none)
log=$(mktemp)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  dpkg --purge harender >/dev/null 2>&1 || true
  rm -f "$log"
}
trap cleanup EXIT

check "dpkg -i $(basename "$deb")" dpkg -i "$deb"
for f in /usr/bin/harender /lib/systemd/system/harender.service /etc/harender/harender.hcl \
         /usr/share/doc/harender/README.md /usr/share/doc/harender/copyright /usr/share/man/man1/harender.1.gz; do
  check "installed $f" test -s "$f"
done
check "/etc/harender/harender.hcl is a conffile" \
  sh -c "dpkg-query -W -f='\${Conffiles}' harender | grep -q '^ /etc/harender/harender.hcl '"
check "harender --version names commit $commit" sh -c "harender --version | grep -q '$commit'"
check "harender check --config /etc/harender/harender.hcl" \
  sh -c "harender check --config /etc/harender/harender.hcl | grep -qx 'ok: 1 template(s)'"
check "man harender" sh -c "MANPAGER=cat man harender 2>/dev/null | grep -q 'keep HAProxy in step with Consul'"
if out=$(systemd-analyze verify /lib/systemd/system/harender.service 2>&1) && [ -z "$out" ]; then
  ok "systemd-analyze verify harender.service"
else
  fail "systemd-analyze verify harender.service: $out"
fi

# Started by hand, as ExecStart does, but with Consul unreachable (nothing
# listens on 127.0.0.1:18599) so that it renders nothing.
HARENDER_LISTEN=127.0.0.1:19120 /usr/bin/harender run --config /etc/harender/harender.hcl \
  --consul-addr 127.0.0.1:18599 2>"$log" &
pid=$!
code=
for _ in $(seq 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:19120/healthz || true)
  [ "$code" = 503 ] && break
  sleep 0.1
done
[ "$code" = 503 ] && ok "harender run: /healthz 503 while Consul is unreachable" || fail "harender run: /healthz answered '$code', want 503"
check "harender run: logged started" grep -q 'msg=started' "$log"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?; pid=
[ "$rc" = 0 ] && ok "harender run: exit 0 on SIGTERM" || { fail "harender run: exit $rc on SIGTERM"; cat "$log"; }
[ "$(sha256sum /etc/haproxy/haproxy.cfg 2>/dev/null || echo none)" = "$cfg_sum" ] &&
  ok "/etc/haproxy/haproxy.cfg untouched" || fail "/etc/haproxy/haproxy.cfg changed"

# The installed unit under a real systemd in namespaces of its own
# (scripts/deb-systemd-test.sh) runs only when asked: DEB_SYSTEMD=1. Booting
# systemd on a shared CI machine makes top-level cgroups, and an early
# version of that script let systemd-tmpfiles empty the host's /tmp.
if [ "${DEB_SYSTEMD:-0}" = 1 ]; then
  if scripts/deb-systemd-test.sh; then ok "deb-systemd-test.sh"; else fail "deb-systemd-test.sh"; fi
fi

check "dpkg -r harender" dpkg -r harender
check "removed /usr/bin/harender" test ! -e /usr/bin/harender
check "removed harender.service" test ! -e /lib/systemd/system/harender.service
check "kept the conffile after dpkg -r" test -e /etc/harender/harender.hcl
check "dpkg --purge harender" dpkg --purge harender
check "purged /etc/harender" test ! -e /etc/harender

echo "deb-test: $(( $(date +%s) - start ))s"
echo "deb-test: $pass passed, $fails failed"
[ "$fails" = 0 ]
