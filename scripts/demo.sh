#!/usr/bin/env bash
# make demo: a real Consul dev agent, three gateway instances registered in
# it with HTTP health checks, HAProxy 2.6 in master-worker mode, and
# harender keeping HAProxy in step -- all on loopback. Ctrl-C stops it all.
# DEMO_EXIT=1 runs the tour and exits instead of waiting.
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
  [ -f "$run/haproxy.pid" ] && kill "$(cat "$run/haproxy.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting a Consul dev agent on $CONSUL_HTTP_ADDR (log: $run/consul.log)"
"$bin/consul" agent -dev -node demo -bind 127.0.0.1 -client 127.0.0.1 \
  -http-port 18500 -dns-port -1 -grpc-port -1 -grpc-tls-port -1 \
  -server-port 18300 -serf-lan-port 18301 -serf-wan-port 18302 >"$run/consul.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fsS "http://$CONSUL_HTTP_ADDR/v1/status/leader" 2>/dev/null | grep -q 18300 && break; sleep 0.1; done

say "starting three gateway instances, each registering itself in Consul"
for i in 1 2 3; do
  "$bin/gateway" -name "gw-$i" -service gateway >"$run/gw-$i.log" 2>&1 &
  pids+=($!); echo "gw-$i: pid $!"
done
for _ in $(seq 100); do
  n=$(curl -fsS "http://$CONSUL_HTTP_ADDR/v1/health/service/gateway?passing" | grep -c '"ServiceID"' || true)
  [ "$n" = 3 ] && break; sleep 0.2
done

say "harender render: Consul -> haproxy.cfg, checked with haproxy -c"
"$bin/harender" render --config "$demo/harender.hcl" --haproxy-bin "$haproxy" --timeout 30s
grep -E '^\s+server ' "$run/haproxy.cfg"

say "starting HAProxy ($("$haproxy" -v | sed -n 1p | cut -d' ' -f1-3)) in master-worker mode"
"$haproxy" -W -S "$run/master.sock" -f "$run/haproxy.cfg" -p "$run/haproxy.pid" >"$run/haproxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$run/master.sock" ] && break; sleep 0.1; done
sleep 0.5

say "requests through HAProxy at http://127.0.0.1:8080/"
for _ in 1 2 3 4 5 6; do curl -fsS http://127.0.0.1:8080/; done

say "gw-3 leaves Consul; harender render --reload follows, and confirms the reload"
curl -fsS -X PUT "http://$CONSUL_HTTP_ADDR/v1/agent/service/deregister/gw-3" >/dev/null
sleep 0.5
"$bin/harender" render --config "$demo/harender.hcl" --haproxy-bin "$haproxy" --reload --timeout 30s
for _ in 1 2 3 4; do curl -fsS http://127.0.0.1:8080/; done

if [ "${DEMO_EXIT:-0}" = 1 ]; then say "tour done"; exit 0; fi
say "try: curl http://127.0.0.1:8080/   (Ctrl-C stops everything)"
wait
