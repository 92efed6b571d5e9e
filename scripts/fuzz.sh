#!/bin/sh
# Runs every fuzz target of the module for FUZZTIME each (default 5s).
# The targets are found with go test -list. Fuzzing takes one target per
# run, so each package's test binary is built once, instrumented as
# go test -fuzz builds it, and run once per target from the package's
# directory: go test -run '^$' -fuzz '^FuzzX$' relinks the binary for every
# target, 5 s each on a loaded 2-core machine, which doubled the run.
# A target that fails leaves its input in its package's testdata/fuzz/FuzzX/;
# the run goes on, and the script fails at the end naming every failed target.
#
# FUZZMINIMIZETIME bounds the minimization of each new interesting input:
# go's default, 60s, can spend a whole short run minimizing one input, with
# no execution counted. A crasher is still written, less minimized.
# Longer runs by hand:
#   FUZZTIME=5m scripts/fuzz.sh                 every target
#   FUZZTIME=5m scripts/fuzz.sh FuzzPlan ...    the targets named
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-5s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-1s}
start=$(date +%s)

# "pkg target" per line: go test -list prints a package's targets, then
# "ok <pkg> <time>".
list=$("$GO" test -vet=off -list '^Fuzz' ./... | awk '
	/^Fuzz/ { names = names " " $1; next }
	/^ok/   { n = split(names, t, " "); for (i = 1; i <= n; i++) print $2, t[i]; names = "" }')
[ -n "$list" ] || { echo "fuzz: no fuzz targets found" >&2; exit 1; }

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cache=$("$GO" env GOCACHE)/fuzz # where go test keeps the generated corpus
failed=""
built=""
while read -r pkg target; do
	if [ $# -gt 0 ]; then
		want=0
		for a in "$@"; do [ "$a" = "$target" ] && want=1; done
		[ $want = 1 ] || continue
	fi
	exe=$bin/$(echo "$pkg" | tr / _).test
	if [ "$built" != "$pkg" ]; then
		"$GO" test -vet=off -c -fuzz '^Fuzz' -ldflags=-w -o "$exe" "$pkg"
		built=$pkg
	fi
	t0=$(date +%s)
	dir=$("$GO" list -f '{{.Dir}}' "$pkg")
	inputs() { ls "$dir/testdata/fuzz/$target" 2>/dev/null | wc -l; }
	before=$(inputs)
	rc=0
	out=$(cd "$dir" && "$exe" -test.run '^$' \
		-test.fuzz "^$target\$" -test.fuzztime "$FUZZTIME" \
		-test.fuzzminimizetime "$FUZZMINIMIZETIME" -test.fuzzcachedir "$cache/$pkg" 2>&1) || rc=$?
	execs=$(echo "$out" | sed -n 's/.*execs: \([0-9]*\).*/\1/p' | tail -1)
	took="${execs:-?} execs in $(($(date +%s) - t0))s"
	if [ $rc = 0 ]; then
		echo "fuzz: ok    $target ($pkg): $took"
	elif [ "$(inputs)" = "$before" ] && echo "$out" | grep -qx '    context deadline exceeded'; then
		# Go 1.26's coordinator can report its own -fuzztime deadline as
		# a failure when a loaded machine delays a worker
		# (go.dev/issue/75804, fixed in 1.27); no input was written.
		echo "fuzz: ok    $target ($pkg): $took (go.dev/issue/75804: deadline reported as a failure, no input found)"
	else
		echo "$out"
		echo "fuzz: FAIL  $target ($pkg): input in $dir/testdata/fuzz/$target/"
		failed="$failed $target"
	fi
done <<LIST
$list
LIST
echo "fuzz: done in $(($(date +%s) - start))s"
if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed" >&2
	exit 1
fi
