#!/usr/bin/env bash
# deb-systemd-test.sh: the installed harender.service under a real systemd;
# deb-test.sh (make test) runs it after dpkg -i. systemd boots as
# PID 1 of new pid, mount, network, uts and ipc namespaces, to a target with
# nothing in it, and is kept from touching this machine: in its mount
# namespace / is read-only and /run, /tmp, /var/tmp, /var/log, /var/lib and
# /etc/haproxy are empty tmpfs; the sysinit units are masked and harender's
# unit gets DefaultDependencies=no, so that nothing of sysinit.target starts
# (an earlier try without this let systemd-tmpfiles empty the host's /tmp).
# A Consul dev agent runs there as a plain process. With a drop-in for a
# test config (HAProxy started by harender on 127.0.0.1:8080, files in
# /run/harender) and WatchdogSec=3s:
#   systemctl start returns with the unit active and READY's status text,
#   HAProxy serving, the VRRP weight file 0, / read-only, NoNewPrivs set;
#   systemctl reload: SIGHUP handled, same pid;
#   harender stopped (SIGSTOP) stops pinging: the watchdog aborts it,
#   ExecStopPost writes -254, systemd restarts it, weight back to 0;
#   systemctl stop: inactive, weight -254, HAProxy gone.
# systemd also makes its cgroups at the top of this machine's cgroup trees
# (there is no other systemd here); they are removed at the end. If any step
# of that isolation fails, systemd is not started.
# If systemd cannot boot in this sandbox it says so and exits 0 (skipped).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
consul=${CONSUL_BIN:-$here/bin/consul}
[ -x "$consul" ] || { echo "deb-systemd-test: no consul at $consul (make deps)" >&2; exit 1; }
[ -x /usr/bin/harender ] && [ -f /lib/systemd/system/harender.service ] ||
  { echo "deb-systemd-test: install the .deb first" >&2; exit 1; }

fails=0
pass=0
ok()   { pass=$((pass + 1)); echo "ok:   $*"; }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

# Not under /tmp: the namespaces get an empty /tmp.
mkdir -p "$here/bin"
work=$(mktemp -d "$here/bin/.deb-systemd-test.XXXXXX")
# A canary in this machine's /tmp: it must outlive the test.
canary=$(mktemp /tmp/deb-systemd-test-canary.XXXXXX)
cgroups_before=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d | sort)
cat >"$work/empty.target" <<'UNIT'
[Unit]
Description=deb-systemd-test: nothing
DefaultDependencies=no
UNIT
# Units of sysinit.target that would act on the machine, masked.
masked="systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service systemd-tmpfiles-clean.timer
systemd-sysctl.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount
systemd-timesyncd.service systemd-udevd.service systemd-udev-trigger.service systemd-sysusers.service
ldconfig.service systemd-journald.service systemd-journald.socket systemd-journald-dev-log.socket
systemd-random-seed.service systemd-modules-load.service systemd-update-utmp.service
systemd-journal-flush.service systemd-machine-id-commit.service systemd-firstboot.service
systemd-hwdb-update.service systemd-remount-fs.service kmod-static-nodes.service sysinit.target"
cat >"$work/boot.sh" <<BOOT
#!/bin/sh
set -e
mount --make-rprivate /
mount -o remount,bind,ro /
for d in /run /tmp /var/tmp /var/log /var/lib /etc/haproxy; do mount -t tmpfs -o mode=755 tmpfs "\$d"; done
chmod 1777 /tmp /var/tmp
mkdir -p /run/systemd/system
cp "$work/empty.target" /run/systemd/system/
for u in $(echo $masked); do ln -s /dev/null "/run/systemd/system/\$u"; done
ip link set lo up
exec /lib/systemd/systemd --system --unit=empty.target
BOOT
chmod +x "$work/boot.sh"
unshare --pid --fork --mount --net --uts --ipc --mount-proc "$work/boot.sh" >"$work/boot.log" 2>&1 &
ns=$!
sd=
cleanup() {
  local rc=$?
  set +e
  [ -n "$sd" ] && kill -KILL "$sd" 2>/dev/null
  kill -KILL "$ns" 2>/dev/null
  wait "$ns" 2>/dev/null
  sleep 0.5
  # The cgroups systemd made at the top of the trees, emptied by the kill.
  comm -13 <(echo "$cgroups_before") <(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d | sort) |
    while read -r d; do find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true; done
  rm -rf "$work" "$canary"
  exit "$rc"
}
trap cleanup EXIT
nsx() { timeout 60 nsenter -t "$sd" -p -m -n -u -i "$@"; }
state() { nsx systemctl show -p "$1" --value harender; }

booted=
for _ in $(seq 100); do
  sd=$(pgrep -P "$ns" -x systemd || true)
  if [ -n "$sd" ] && s=$(nsx systemctl is-system-running 2>/dev/null) && [ "$s" = running ]; then
    booted=1; break
  fi
  sleep 0.1
done
if [ -z "$booted" ]; then
  echo "deb-systemd-test: skipped: systemd did not boot in namespaces here ($(tail -3 "$work/boot.log" | tr '\n' ' '))"
  exit 0
fi
echo "deb-systemd-test: systemd $(nsx systemctl --version | sed -n '1s/systemd //p') booted as pid 1 of new namespaces"

# Consul as a plain process in the namespaces, not a unit (a unit would
# pull in sysinit.target); it ends with them.
nsx sh -c "setsid '$consul' agent -dev -bind 127.0.0.1 -client 127.0.0.1 -log-level warn >/run/consul.log 2>&1 &"
for _ in $(seq 100); do
  nsx curl -sf -m 1 127.0.0.1:8500/v1/status/leader 2>/dev/null | grep -q 8300 && break
  sleep 0.2
done
nsx sh -c 'mkdir -p /run/hrtest /run/systemd/system/harender.service.d
cat >/run/hrtest/harender.hcl <<HCL
consul {
  address = "127.0.0.1:8500"
}
template {
  builtin     = "gateway"
  params      = { service = "gateway", bind = "127.0.0.1:8080" }
  destination = "/run/harender/haproxy.cfg"
}
haproxy {
  binary           = "/usr/sbin/haproxy"
  config           = "/run/harender/haproxy.cfg"
  master_socket    = "/run/harender/master.sock"
  runtime_socket   = "/run/harender/admin.sock"
  pid_file         = "/run/harender/haproxy.pid"
  start            = true
  vrrp_weight_file = "/run/harender/vrrp-weight"
}
listen = "127.0.0.1:9120"
HCL
cat >/run/systemd/system/harender.service.d/test.conf <<DROPIN
[Unit]
DefaultDependencies=no
[Service]
StandardOutput=append:/run/hrtest/harender.log
Environment=HARENDER_CONFIG=/run/hrtest/harender.hcl HARENDER_VRRP_WEIGHT_FILE=/run/harender/vrrp-weight
WatchdogSec=3s
StandardError=append:/run/hrtest/harender.log
DROPIN
systemctl daemon-reload'
weight() { nsx cat /run/harender/vrrp-weight 2>/dev/null || echo none; }
logged() { nsx grep -q -- "$1" /run/hrtest/harender.log; }

# Start: returns once READY=1 came.
if nsx systemctl start harender; then ok "systemctl start harender"; else fail "systemctl start harender"; fi
[ "$(state ActiveState)" = active ] && ok "active after start" || fail "state $(state ActiveState) after start"
[ "$(state StatusText)" = "haproxy.cfg applied" ] && ok "status text: haproxy.cfg applied (READY=1)" ||
  fail "status text '$(state StatusText)'"
code=$(nsx curl -s -m 2 -o /dev/null -w '%{http_code}' 127.0.0.1:8080/ || true)
[ "$code" = 503 ] && ok "HAProxy serves 127.0.0.1:8080 (503: no gateway instances)" || fail "HAProxy answered '$code'"
[ "$(weight)" = 0 ] && ok "weight file 0 while HAProxy runs" || fail "weight file '$(weight)' while running"
pid=$(state MainPID)
nsx grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$pid/status" && ok "NoNewPrivileges in force" || fail "NoNewPrivs not set"
nsx awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo" | grep -q '^ro' && ok "ProtectSystem=strict: / is read-only for harender" ||
  fail "/ is not read-only for harender"

# Reload: SIGHUP, same process.
nsx systemctl reload harender
for _ in $(seq 50); do logged "SIGHUP: config and templates re-read" && break; sleep 0.1; done
logged "SIGHUP: config and templates re-read" && [ "$(state MainPID)" = "$pid" ] && ok "systemctl reload: SIGHUP handled, same pid" ||
  fail "systemctl reload"

# Watchdog: a harender that stops pinging is aborted and restarted.
nsx kill -STOP "$pid"
saw=
for _ in $(seq 150); do
  [ "$(weight)" = -254 ] && saw=1
  [ "$(state NRestarts)" -ge 1 ] && [ "$(state ActiveState)" = active ] && break
  sleep 0.1
done
[ "$(state NRestarts)" -ge 1 ] && [ "$(state MainPID)" != "$pid" ] && ok "watchdog: stopped harender aborted and restarted" ||
  fail "watchdog: restarts $(state NRestarts), pid $(state MainPID) (was $pid)"
logged "SIGABRT" && ok "watchdog: SIGABRT, Go stack in the log" || fail "no SIGABRT in the log"
[ -n "$saw" ] && ok "ExecStopPost wrote -254 after the abort" || fail "weight file never -254 after the abort"
for _ in $(seq 50); do [ "$(weight)" = 0 ] && break; sleep 0.1; done
[ "$(weight)" = 0 ] && ok "weight file 0 again after the restart" || fail "weight file '$(weight)' after the restart"

# Nothing but what this test started may have run.
units=$(nsx systemctl list-units --no-legend --plain --state=active --type=service,socket,timer,automount | awk '{ print $1 }' | tr '\n' ' ')
[ "$units" = "harender.service " ] && ok "only harender.service ran (no sysinit units)" || fail "units that ran: $units"

# Stop.
nsx systemctl stop harender
[ "$(state ActiveState)" = inactive ] && ok "systemctl stop: inactive" || fail "state $(state ActiveState) after stop"
[ "$(weight)" = -254 ] && ok "weight file -254 after stop" || fail "weight file '$(weight)' after stop"
code=$(nsx curl -s -m 2 -o /dev/null -w '%{http_code}' 127.0.0.1:8080/ || true)
[ "$code" = 000 ] && ok "HAProxy stopped with harender" || fail "HAProxy still answers ($code) after stop"

[ -f "$canary" ] && ok "this machine's /tmp untouched" || fail "this machine's /tmp was changed"

if [ "$fails" != 0 ]; then
  echo "--- harender's log:"; nsx tail -30 /run/hrtest/harender.log || true
fi
echo "deb-systemd-test: $pass passed, $fails failed"
[ "$fails" = 0 ]
