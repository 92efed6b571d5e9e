#!/usr/bin/env bash
# compare-serf-handler.sh: the canonical Serf + HAProxy event handler, as
# make compare runs it. The load balancer's Serf agent runs it on
# member-join, member-leave and member-failed (serf agent -event-handler);
# it rewrites HAProxy's server list from the live members tagged
# role=gateway, each on the port of its "port" tag, after a fixed header,
# then checks and reloads HAProxy.
#
# env (set on the Serf agent): HAPROXY (binary), HAPROXY_CFG, HAPROXY_HEADER
# (the config up to the server lines), HAPROXY_MASTER (master socket),
# SERF_RPC (this agent's RPC address), RELOAD (compare-haproxy-reload.sh).
set -euo pipefail
case "${SERF_EVENT:-}" in
  member-join|member-leave|member-failed) ;;
  *) exit 0 ;;
esac
cat >/dev/null # the members of this event; the whole list is read back below

tmp="$HAPROXY_CFG.serf.$$"
{
  cat "$HAPROXY_HEADER"
  # "gw-1  127.0.0.1:7947  alive  port=29001,role=gateway"
  serf members -rpc-addr="$SERF_RPC" -status=alive -tag role=gateway | awk '{
    split($2, a, ":"); port = ""
    n = split($4, tags, ",")
    for (i = 1; i <= n; i++) { split(tags[i], kv, "="); if (kv[1] == "port") port = kv[2] }
    if (port != "") printf "    server %s %s:%s check\n", $1, a[1], port
  }' | sort
} >"$tmp"
mv -f "$tmp" "$HAPROXY_CFG"
exec "$RELOAD" "$HAPROXY" "$HAPROXY_CFG" "$HAPROXY_MASTER"
