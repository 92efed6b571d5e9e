#!/usr/bin/env bash
# bench-churn.sh: make bench-churn, the churn table of issue 8. harender
# (reload = "auto"), harender with reload = "always" and consul-template +
# HAProxy, each on HAProxy 2.6 and 3.0, through the same churn run on
# loopback under wrk (tools/bench, the harness of make compare): 3 stable
# instances, 2 joining and leaving every INTERVAL, EVENTS events, and with
# KV_EVERY=K a write of a KV key the template reads after every K-th event
# (a structural change: a reload). Prints the table and writes
# docs/compare-churn.md and .png.
#
# SCENARIO=mixed cycles through every kind of membership event instead:
# joins, checks failing and passing (Consul maintenance mode), weight
# changes and leaves (make bench).
#
# usage: scripts/bench-churn.sh [bench flags...]
# env:   EVENTS (100), INTERVAL (250ms), KV_EVERY (0; 10 with EVENTS=1000 gives
#        1,000 membership events and 100 structural changes), SCENARIO (churn),
#        STACKS, OUT, TITLE, KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/harender ./cmd/harender
go build -o bin/harender-bench ./tools/bench
stacks=${STACKS:-harender@2.6,harender@3.0,harender-always@2.6,harender-always@3.0,consul-template@2.6,consul-template@3.0}
out=${OUT:-docs/compare-churn.md}
keep=(); [ "${KEEP:-0}" = 1 ] && keep=(-keep)
title=${TITLE:-make bench-churn}
exec bin/harender-bench -scenarios "${SCENARIO:-churn}" -stacks "$stacks" -events "${EVENTS:-100}" -interval "${INTERVAL:-250ms}" \
  -kv-every "${KV_EVERY:-0}" -out "$out" -plot "${out%.md}.png" -title "$title" \
  -command "$title: SCENARIO=${SCENARIO:-churn} EVENTS=${EVENTS:-100} INTERVAL=${INTERVAL:-250ms} KV_EVERY=${KV_EVERY:-0} STACKS=$stacks" "${keep[@]}" "$@"
