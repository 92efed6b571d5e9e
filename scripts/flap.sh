#!/usr/bin/env bash
# flap.sh: the flap run of issue 6, repeated, with its numbers only.
#
# Runs TestRunFlapUnderLoad (cmd/harender/e2e_flap_test.go) RUNS times:
# one of four gateway instances fails and passes its Consul check every
# 2 s for 30 s under wrk, on each HAProxy in HAPROXY_BINS, and prints per
# run the returns (Consul pass to served), wrk's counts and the reloads.
#
# usage: scripts/flap.sh [RUNS]        (default 1; about 70 s per run)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
export CONSUL_BIN=${CONSUL_BIN:-$PWD/bin/consul}
export HAPROXY_BINS=${HAPROXY_BINS:-/usr/sbin/haproxy:$PWD/bin/haproxy-3.0}
status=0
for i in $(seq 1 "$runs"); do
	echo "== run $i of $runs"
	out=$(go test -count=1 -run '^TestRunFlapUnderLoad$' -v ./cmd/harender/ 2>&1) || status=1
	grep -E 'flap run,|return [0-9]+:|returns:|failures:|wrk:|held requests:|reloads:|^\s*--- (PASS|FAIL|SKIP)' <<<"$out" || true
done
exit $status
