#!/usr/bin/env bash
# compare.sh: make compare. Which stack fails over best? Runs every stack
# through the churn, kill and flap scenarios on loopback under wrk load
# (tools/bench), prints the table and writes docs/compare.md and
# docs/compare.png (gnuplot). About 35 s per stack and scenario.
#
# usage: scripts/compare.sh [bench flags...]     e.g. -smoke, -stacks LIST, -scenarios LIST
# env:   STACKS (default: every stack; harender-serf when harender has a Serf
#        source), OUT (default docs/compare.md; the PNG beside it), KEEP=1
#        keeps every run's folder.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/harender ./cmd/harender
go build -o bin/harender-bench ./tools/bench
for b in bin/consul bin/consul-template bin/fabio bin/haproxy-3.0 /usr/sbin/haproxy /usr/bin/serf; do
  [ -x "$b" ] || { echo "compare.sh: $b is missing: run make deps" >&2; exit 1; }
done
for t in wrk socat gnuplot; do
  command -v "$t" >/dev/null || { echo "compare.sh: $t is missing: run make deps" >&2; exit 1; }
done

stacks=${STACKS:-harender@2.6,harender@3.0,consul-template@2.6,consul-template@3.0,fabio,serf@2.6,serf@3.0}
# harender on Serf, once harender has a Serf source (examples/serf).
if [ -z "${STACKS:-}" ] && [ -f examples/serf/harender.hcl ]; then
  stacks=$stacks,harender-serf@2.6,harender-serf@3.0
fi
out=${OUT:-docs/compare.md}
keep=(); [ "${KEEP:-0}" = 1 ] && keep=(-keep)
exec bin/harender-bench -stacks "$stacks" -out "$out" -plot "${out%.md}.png" \
  -title "make compare: which stack fails over best" -command "make compare" "${keep[@]}" "$@"
