#!/usr/bin/env bash
# make demo: a real Consul dev agent, three gateway instances registered in
# it with HTTP health checks, and harender run -- which starts HAProxy 2.6 in
# master-worker mode and keeps it in step -- all on loopback. The tour then
# kills one instance under load from wrk and shows no client error.
# DEMO_EXIT=1 (make demo-failover) exits after the tour instead of waiting.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/bin
demo=$PWD/examples/demo
run=$demo/run
haproxy=${HAPROXY_BIN:-/usr/sbin/haproxy}
export CONSUL_HTTP_ADDR=127.0.0.1:18500
rm -rf "$run"; mkdir -p "$run"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
servers() { grep -E '^\s+server ' "$run/haproxy.cfg" || echo "    (no servers)"; }

say "starting a Consul dev agent on $CONSUL_HTTP_ADDR (log: $run/consul.log)"
"$bin/consul" agent -dev -node demo -bind 127.0.0.1 -client 127.0.0.1 \
  -http-port 18500 -dns-port -1 -grpc-port -1 -grpc-tls-port -1 \
  -server-port 18300 -serf-lan-port 18301 -serf-wan-port 18302 >"$run/consul.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fsS "http://$CONSUL_HTTP_ADDR/v1/status/leader" 2>/dev/null | grep -q 18300 && break; sleep 0.1; done

say "starting three gateway instances; each registers itself with an HTTP health check"
gw=()
for i in 1 2 3; do
  "$bin/gateway" -name "gw-$i" -service gateway >"$run/gw-$i.log" 2>&1 &
  pids+=($!); gw+=($!); echo "gw-$i: pid $!"
done

say "starting harender run (log: $run/harender.log); it renders, checks and starts HAProxy"
"$bin/harender" run --config "$demo/harender.hcl" --haproxy-bin "$haproxy" \
  --listen 127.0.0.1:9120 >"$run/harender.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do curl -fsS http://127.0.0.1:9120/healthz >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 100); do [ "$(grep -cE '^\s+server ' "$run/haproxy.cfg" 2>/dev/null)" = 3 ] && break; sleep 0.1; done
servers

say "requests through HAProxy at http://127.0.0.1:8080/"
for _ in 1 2 3 4 5 6; do curl -fsS http://127.0.0.1:8080/; done

say "failover: kill -9 gw-3 while wrk sends load for 6s"
wrk -t2 -c16 -d6s http://127.0.0.1:8080/ >"$run/wrk.txt" 2>&1 &
wrkpid=$!
sleep 2
kill -9 "${gw[2]}"; echo "gw-3 killed at $(date +%T.%N | cut -c1-12)"
wait "$wrkpid" || true
grep -E 'requests in|Requests/sec|Socket errors|Non-2xx' "$run/wrk.txt" || true
grep -qE 'Socket errors|Non-2xx' "$run/wrk.txt" || echo "  no socket errors and no non-2xx responses"
say "HAProxy's config followed Consul: gw-3 is gone"
servers
grep -E 'reloaded|runtime API' "$run/harender.log" | tail -3 || true
curl -fsS http://127.0.0.1:9120/metrics | grep -E '^harender_(haproxy_reloads_total|renders_total|dependencies)' || true

if [ "${DEMO_EXIT:-0}" = 1 ]; then say "tour done"; exit 0; fi
say "all running. Try: curl http://127.0.0.1:8080/  curl 127.0.0.1:9120/metrics  (Ctrl-C stops everything)"
wait
