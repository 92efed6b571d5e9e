#!/usr/bin/env bash
# bench-services.sh: make bench-services, the service-churn table of issue
# 11. harender with the built-in template "routes" and consul-template with
# an equivalent template, each on HAProxy 3.4 and 3.0, on loopback against a
# Consul dev agent, under wrk load on a stable route: SERVICES routed
# services (tag urlprefix-/svc-NN) registered one by one, each once the one
# before is served, then deregistered one by one (tools/bench, -scenarios
# services). Prints the table and writes docs/compare-services.md.
#
# usage: scripts/bench-services.sh [bench flags...]
# env:   SERVICES (20), STACKS, OUT, KEEP=1 (keep every run's folder).
set -euo pipefail
cd "$(dirname "$0")/.."
for b in bin/consul bin/consul-template bin/haproxy-3.0 bin/haproxy-3.4; do
  [ -x "$b" ] || { echo "bench-services.sh: $b missing: run make deps" >&2; exit 1; }
done
for t in wrk socat; do
  command -v $t >/dev/null || { echo "bench-services.sh: $t missing: run make deps" >&2; exit 1; }
done
go build -o bin/harender ./cmd/harender
go build -o bin/harender-bench ./tools/bench
stacks=${STACKS:-harender@3.4,harender@3.0,consul-template@3.4,consul-template@3.0}
out=${OUT:-docs/compare-services.md}
keep=(); [ "${KEEP:-0}" = 1 ] && keep=(-keep)
exec bin/harender-bench -scenarios services -stacks "$stacks" -services "${SERVICES:-20}" -out "$out" \
  -title "make bench-services" -command "make bench-services SERVICES=${SERVICES:-20}" "${keep[@]}" "$@"
