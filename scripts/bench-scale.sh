#!/usr/bin/env bash
# bench-scale: harender run and consul-template v0.42.1 side by side on a
# big catalog (default 1,000 services x 10 instances on 100 nodes, every
# instance with a check), on one template that ranges over every service
# (`range services` -> `range service .Name`), against one real Consul
# agent (-dev, loopback). Each tool talks to the agent through its own
# counting proxy (tools/benchscale proxy). It reports, per tool: the time
# to the first complete render, the open connections to the agent (its
# sockets, from /proc/PID/fd and /proc/PID/net/tcp), Consul requests per
# minute with Consul idle and under churn, RSS (VmRSS peak and VmHWM), and
# whether both outputs are byte-identical (cmp) after the first render and
# after the churn; plus the render benchmark at 10,000 instances and
# haproxy.Plan at 10,000 servers. Writes the table to $OUT.
#
# usage: scripts/bench-scale.sh
#   env: SERVICES=1000 INSTANCES=10 NODES=100 IDLE=120 (seconds) CHURN=120
#        (seconds) RATE=1 (churn events a second) PORT_BASE=27500
#        OUT=docs/bench-scale.md (empty: print only) BENCH=1 (0: skip the
#        Go benchmarks)
#
# The agent's http_max_conns_per_client is raised to 4096: consul-template
# keeps one blocking query, so one connection, per service and would be
# refused past about 190 services otherwise. harender needs no change.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
SERVICES=${SERVICES:-1000} INSTANCES=${INSTANCES:-10} NODES=${NODES:-100}
IDLE=${IDLE:-120} CHURN=${CHURN:-120} RATE=${RATE:-1} BENCH=${BENCH:-1}
base=${PORT_BASE:-27500}
OUT=${OUT-$root/docs/bench-scale.md}
CONSUL=${CONSUL_BIN:-$root/bin/consul}
CT=${CONSUL_TEMPLATE_BIN:-$root/bin/consul-template}
for b in "$CONSUL" "$CT"; do
  [ -x "$b" ] || { echo "bench-scale: $b missing (make deps)" >&2; exit 2; }
done

# Not under /tmp: a long run must survive other jobs cleaning /tmp.
tmp=$(mktemp -d "${BENCH_TMP:-/var/tmp}/bench-scale.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done # consul-template can linger
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
say() { echo "bench-scale: $*" >&2; }

say "building harender and tools/benchscale into $tmp"
(cd "$root" && go build -o "$tmp/harender" ./cmd/harender)
(cd "$root/tools/benchscale" && go build -o "$tmp/benchscale" .)
bs=$tmp/benchscale

consul_addr=127.0.0.1:$base
"$CONSUL" agent -dev -bind 127.0.0.1 -client 127.0.0.1 -node bench-scale \
  -http-port "$base" -dns-port -1 -grpc-port -1 -grpc-tls-port -1 -server-port $((base + 1)) \
  -serf-lan-port $((base + 2)) -serf-wan-port $((base + 3)) \
  -hcl 'limits { http_max_conns_per_client = 4096 }' -log-level warn >"$tmp/consul.log" 2>&1 &
pids+=($!)
for _ in $(seq 1200); do
  leader=$(curl -fsS "http://$consul_addr/v1/status/leader" 2>/dev/null || true)
  [ -n "$leader" ] && [ "$leader" != '""' ] && break
  sleep 0.1
done
[ -n "$leader" ] && [ "$leader" != '""' ] || { echo "bench-scale: no Consul leader after 2 min:" >&2; tail "$tmp/consul.log" >&2; exit 1; }
consul_version=$("$CONSUL" version | head -1)
say "$consul_version up on $consul_addr; registering $SERVICES x $INSTANCES instances on $NODES nodes"
"$bs" register -consul "$consul_addr" -services "$SERVICES" -instances "$INSTANCES" -nodes "$NODES" -c 16 >&2

cat >"$tmp/scale.tmpl" <<'EOF'
# {{ len services }} services
{{ range services }}
backend {{ .Name }}
    balance roundrobin{{ range .Tags }} # tag {{ . }}{{ end }}
{{- range service .Name }}
    server {{ .Node }}_{{ .ID }} {{ .Address }}:{{ .Port }} weight {{ or .ServiceMeta.weight "1" }} # {{ .Status }}{{ range .Tags }} {{ . }}{{ end }}
{{- end }}
{{ end -}}
EOF

# One counting proxy per tool.
hp=$((base + 10)) cp=$((base + 11))
"$bs" proxy -listen 127.0.0.1:$hp -target "$consul_addr" >"$tmp/proxy-h.log" 2>&1 &
pids+=($!)
"$bs" proxy -listen 127.0.0.1:$cp -target "$consul_addr" >"$tmp/proxy-c.log" 2>&1 &
pids+=($!)
for p in $hp $cp; do
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$p/__count" >/dev/null 2>&1 && break; sleep 0.05; done
done

cat >"$tmp/harender.hcl" <<EOF
consul {
  address        = "127.0.0.1:$hp"
  shared_queries = true
}
template {
  source      = "$tmp/scale.tmpl"
  destination = "$tmp/harender.out"
}
EOF
t0=$(date +%s.%N)
"$tmp/harender" run --config "$tmp/harender.hcl" --listen 127.0.0.1:$((base + 12)) --log-level "${LOG_LEVEL:-warn}" >"$tmp/harender.log" 2>&1 &
hpid=$!
pids+=($hpid)
"$CT" -consul-addr 127.0.0.1:$cp -template "$tmp/scale.tmpl:$tmp/ct.out" -log-level=err >"$tmp/ct.log" 2>&1 &
cpid=$!
pids+=($cpid)

want=$((SERVICES + 1)) # svc-NNNN and "consul"
first() { # first FILE: seconds from t0 until FILE holds every backend
  for _ in $(seq 3000); do
    if [ -s "$1" ] && [ "$(grep -c '^backend ' "$1")" -ge "$want" ]; then
      echo "$(date +%s.%N) - $t0" | bc | awk '{printf "%.1f", $1}'
      return
    fi
    sleep 0.1
  done
  echo "never"
}
h_first=$(first "$tmp/harender.out")
c_first=$(first "$tmp/ct.out")
say "first complete render: harender ${h_first}s, consul-template ${c_first}s"

same() { # same: wait up to 60s for identical outputs; prints yes/no
  for _ in $(seq 600); do
    cmp -s "$tmp/harender.out" "$tmp/ct.out" && { echo yes; return; }
    sleep 0.1
  done
  echo no
}
same_first=$(same)
[ "$same_first" = yes ] || diff "$tmp/ct.out" "$tmp/harender.out" | head -20 >&2
servers=$(grep -c '^    server ' "$tmp/harender.out" || true)
say "outputs identical after the first render: $same_first ($servers servers)"

sleep 5
count() { curl -fsS "http://127.0.0.1:$1/__count"; }
reset() { curl -fsS -X POST "http://127.0.0.1:$1/__reset" >/dev/null; }
permin() { # permin PORT: requests a minute since the last reset
  count "$1" | awk 'NR==1 {printf "%.0f", $2 / $4 * 60}'
}
phase() { # phase NAME SECONDS CMD...: sample both tools while CMD runs
  local name=$1 secs=$2
  shift 2
  reset $hp
  reset $cp
  "$bs" sample -pid "$hpid" -port "$hp" -d "${secs}s" >"$tmp/sample-h-$name" &
  local s1=$!
  "$bs" sample -pid "$cpid" -port "$cp" -d "${secs}s" >"$tmp/sample-c-$name" &
  local s2=$!
  "$@"
  wait "$s1" "$s2"
  count $hp >"$tmp/count-h-$name"
  count $cp >"$tmp/count-c-$name"
  h_rate[$name]=$(permin $hp)
  c_rate[$name]=$(permin $cp)
}
declare -A h_rate c_rate
say "idle for ${IDLE}s"
phase idle "$IDLE" sleep "$IDLE"
say "churn for ${CHURN}s at $RATE events/s"
phase churn "$CHURN" "$bs" churn -consul "$consul_addr" -services "$SERVICES" -instances "$INSTANCES" \
  -nodes "$NODES" -rate "$RATE" -d "${CHURN}s"
same_churn=$(same)
[ "$same_churn" = yes ] || diff "$tmp/ct.out" "$tmp/harender.out" | head -20 >&2
say "outputs identical after the churn: $same_churn"

field() { awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' "$1"; }
mib() { echo "$1" | awk '{printf "%.1f", $1 / 1024}'; }
h_conns=$(($(field "$tmp/sample-h-idle" conns_max) > $(field "$tmp/sample-h-churn" conns_max) ? $(field "$tmp/sample-h-idle" conns_max) : $(field "$tmp/sample-h-churn" conns_max)))
c_conns=$(($(field "$tmp/sample-c-idle" conns_max) > $(field "$tmp/sample-c-churn" conns_max) ? $(field "$tmp/sample-c-idle" conns_max) : $(field "$tmp/sample-c-churn" conns_max)))
h_rss=$(mib "$(field "$tmp/sample-h-churn" rss_max_kib)") c_rss=$(mib "$(field "$tmp/sample-c-churn" rss_max_kib)")
h_rss_idle=$(mib "$(field "$tmp/sample-h-idle" rss_max_kib)") c_rss_idle=$(mib "$(field "$tmp/sample-c-idle" rss_max_kib)")
h_hwm=$(mib "$(field "$tmp/sample-h-churn" hwm_kib)") c_hwm=$(mib "$(field "$tmp/sample-c-churn" hwm_kib)")
ratio() { # ratio A B: "A/B x fewer", or what to say when B made none
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx fewer", a / b; else print "harender made none" }'
}

render="(skipped)" plan="(skipped)"
if [ "$BENCH" = 1 ]; then
  say "render and plan benchmarks"
  bench() { # bench PKG PATTERN: wall ms/op over 20 runs (and CPU ms/op if reported)
    (cd "$root" && go test -run '^$' -bench "$2" -benchtime 20x -count 1 "$1" 2>&1) |
      awk '/^Benchmark/ { printf "%.1f ms/op wall", $3 / 1e6
        for (i = 4; i <= NF; i++) if ($i == "cpu-ms/op") printf ", %.1f ms/op CPU", $(i - 1) }'
  }
  render=$(bench ./renderer/ 'RenderConsulTemplateStyle/instances=10000$')
  plan=$(bench ./haproxy/ 'Plan10k$')
fi

table=$(
  cat <<EOF
| $SERVICES services x $INSTANCES instances, one template over all of them | harender run | consul-template v0.42.1 | ratio |
|---|---|---|---|
| first complete render after start | ${h_first} s | ${c_first} s | |
| open connections to the agent (max, idle and churn) | $h_conns | $c_conns | |
| Consul requests a minute, idle (${IDLE} s) | ${h_rate[idle]} | ${c_rate[idle]} | $(ratio "${c_rate[idle]}" "${h_rate[idle]}") |
| Consul requests a minute, churn ($RATE event/s, ${CHURN} s) | ${h_rate[churn]} | ${c_rate[churn]} | $(ratio "${c_rate[churn]}" "${h_rate[churn]}") |
| RSS idle, max | $h_rss_idle MiB | $c_rss_idle MiB | |
| RSS under churn, max (VmHWM) | $h_rss MiB ($h_hwm) | $c_rss MiB ($c_hwm) | |
| outputs byte-identical (cmp), after first render / after churn | $same_first / $same_churn | | |
| full render, consul-template-style template, 10,000 instances | $render | | |
| haproxy.Plan, one server added to a backend of 10,000 | $plan | | |
EOF
)
echo "$table"
echo
echo "requests by endpoint under churn:"
paste "$tmp/count-h-churn" "$tmp/count-c-churn" | sed 's/^/  /'

if [ -n "$OUT" ]; then
  {
    echo "# bench-scale"
    echo
    echo "\`scripts/bench-scale.sh\` (\`make bench-scale\`), $(date -u +%Y-%m-%d), $consul_version -dev on loopback,"
    echo "$(nproc) cores (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)). Each tool reaches the agent"
    echo "through its own counting proxy; the churn flips the check of a random instance or registers"
    echo "or deregisters an extra instance (with a check) of a random service, $RATE a second."
    echo
    echo "$table"
    echo
    echo "harender shares three blocking queries on the whole catalog among every \`service\` and"
    echo "\`services\` dependency (README, \"The sidecar does not keep a query per dependency\"): a check"
    echo "that changes is patched in from the checks query's answer, anything else fetches only the"
    echo "services concerned, 4 at a time, over at most 7 connections. consul-template keeps one"
    echo "blocking query (60 s wait) per dependency."
    echo
    echo "Requests by endpoint under churn (harender, then consul-template; \`total N seconds S\` first):"
    echo
    echo '```'
    echo "harender:"
    cat "$tmp/count-h-churn"
    echo "consul-template:"
    cat "$tmp/count-c-churn"
    echo '```'
  } >"$OUT.tmp"
  mv "$OUT.tmp" "$OUT"
  say "wrote $OUT"
fi
