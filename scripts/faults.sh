#!/usr/bin/env bash
# make faults: run the fault table's end-to-end tests (TestFault*) and print
# their rows as a Markdown table. Extra arguments go to go test.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
HARENDER_FAULTS=1 go test -count=1 -timeout 30m -run 'TestFault' -v ./cmd/harender/ "$@" >"$log" 2>&1 || status=$?
echo "| fault | what harender did | failed requests of total | config lost | HAProxy |"
echo "|---|---|---|---|---|"
grep -o 'FAULT | .*' "$log" | sed 's/^FAULT //; s/$/ |/' || true
grep -E '^(--- FAIL|FAIL|ok)' "$log" || true
exit $status
