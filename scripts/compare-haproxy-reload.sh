#!/usr/bin/env bash
# compare-haproxy-reload.sh HAPROXY CFG MASTER_SOCKET: what a consul-template
# or Serf-handler user runs after writing HAProxy's config: check it, then
# reload HAProxy through its master socket. Exits non-zero when the check
# fails (HAProxy keeps its old config). While the master re-executes after a
# reload (60-80 ms on 2.6) it refuses connections: the reload is retried for
# up to 2 s, as a careful user's script would; a reload that never got
# through is reported on stderr but not as a failure, because consul-template
# exits when its command fails. Before HAProxy is started (no socket yet) it
# only checks.
set -euo pipefail
haproxy=${1:?usage: compare-haproxy-reload.sh HAPROXY CFG MASTER_SOCKET}
cfg=${2:?} sock=${3:?}
"$haproxy" -c -q -f "$cfg"
[ -S "$sock" ] || exit 0
for _ in $(seq 100); do
  echo reload | socat -t 2 - "UNIX-CONNECT:$sock" >/dev/null 2>&1 && exit 0
  sleep 0.02
done
echo "compare-haproxy-reload.sh: $sock refused the reload for 2s" >&2
