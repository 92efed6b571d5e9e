#!/usr/bin/env bash
# sidecar.sh: measures `harender run` against a real Consul dev agent, on
# loopback only.
#
#   latency   Consul write -> change served by HAProxy, for a change that
#             needs a reload (KV key rendered into an http-response header)
#             and one that goes through the runtime API (an instance
#             re-registered with the same ID on another gateway's port),
#             and an instance with an HTTP check joining and leaving.
#             Per HAProxy version; harender starts HAProxy itself.
#   rss       VmRSS of harender run with 1,000 services (one instance each)
#             rendered into a 1,000-backend HAProxy config (HAProxy started
#             by harender): idle after the first render, then under churn.
#   requests  Consul HTTP requests per minute at idle, harender vs
#             consul-template, each behind its own counting reverse proxy,
#             for a 1,000-service template and a one-service template.
#
# usage: scripts/bench/sidecar.sh [latency] [rss] [requests]   (default: all three)
# env:   N=120 changes per latency run, GAP=300ms pause between changes,
#        POLL=2ms poll interval, VERSIONS="2.6 3.0", IDLE=30 (rss idle seconds),
#        CHURN=60 (rss churn seconds), REQ_SECONDS=120 (requests window),
#        SERVICES=1000, PORT_BASE=28000 (Consul HTTP PORT_BASE+500, server/serf
#        +300..302, HAProxy frontends +80..82, harender metrics +120..122,
#        counting proxies +501..504, spare gateways +11/+12),
#        HAPROXY_26 (default /usr/sbin/haproxy), HAPROXY_30 (default bin/haproxy-3.0),
#        KEEP=1 keeps the temp dir, BUILD=1 rebuilds bin/harender and bin/gateway,
#        SYSTEM_CA=on (latency) has HAProxy load the system's CA store (the
#        template's param system_ca; default off), KEEPALIVE=1 (latency) polls
#        the runtime and join changes over one kept connection (benchtool's
#        poller) rather than a new connection per poll.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bin=$root/bin

phases=("$@")
[ ${#phases[@]} -eq 0 ] && phases=(latency rss requests)
N=${N:-120} GAP=${GAP:-300ms} POLL=${POLL:-2ms} VERSIONS=${VERSIONS:-"2.6 3.0"}
IDLE=${IDLE:-30} CHURN=${CHURN:-60} REQ_SECONDS=${REQ_SECONDS:-120} SERVICES=${SERVICES:-1000}
base=${PORT_BASE:-28000}
consul_port=$((base + 500))
consul_addr=127.0.0.1:$consul_port
haproxy_26=${HAPROXY_26:-/usr/sbin/haproxy}
haproxy_30=${HAPROXY_30:-$bin/haproxy-3.0}

if [ "${BUILD:-0}" = 1 ] || [ ! -x "$bin/harender" ]; then go build -o "$bin/harender" ./cmd/harender; fi
if [ "${BUILD:-0}" = 1 ] || [ ! -x "$bin/gateway" ]; then go build -o "$bin/gateway" ./examples/gateway; fi

tmp=$(mktemp -d -t bench-sidecar.XXXXXX)
bt=$tmp/benchtool
go build -o "$bt" ./scripts/bench/benchtool

pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  # HAProxy masters started by harender stop with harender; make sure.
  for f in "$tmp"/*/haproxy.pid; do [ -f "$f" ] && kill "$(head -1 "$f")" 2>/dev/null; done
  wait 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "sidecar.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*"; }
wait_http() { # URL [tries of 0.1s]
  for _ in $(seq "${2:-300}"); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "sidecar.sh: $1 never answered" >&2; return 1
}
metric() { # PORT REGEX: sum of matching metric lines
  { curl -fsS "http://127.0.0.1:$1/metrics" || true; } | awk -v re="^($2)" '$0 ~ re {s+=$NF} END {printf "%d", s}'
}
stop_pid() { # PID: SIGTERM and wait
  kill "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}

say "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
say "Consul dev agent on $consul_addr (http_max_conns_per_client raised to 8192)"
"$bin/consul" agent -dev -node bench-sidecar -bind 127.0.0.1 -client 127.0.0.1 \
  -http-port "$consul_port" -dns-port -1 -grpc-port -1 -grpc-tls-port -1 \
  -server-port $((base + 300)) -serf-lan-port $((base + 301)) -serf-wan-port $((base + 302)) \
  -hcl 'limits { http_max_conns_per_client = 8192 }' >"$tmp/consul.log" 2>&1 &
pids+=($!)
for _ in $(seq 150); do curl -fsS "http://$consul_addr/v1/status/leader" 2>/dev/null | grep -q $((base + 300)) && break; sleep 0.1; done
export CONSUL_HTTP_ADDR=$consul_addr

# Two instances of service "gateway" (the reload test's backend) and two of
# service "pool" on fixed ports (targets of the runtime-API test).
for i in 1 2; do "$bin/gateway" -name "gw-$i" -service gateway >"$tmp/gw-$i.log" 2>&1 & pids+=($!); done
"$bin/gateway" -name gw-a -service pool -listen 127.0.0.1:$((base + 11)) >"$tmp/gw-a.log" 2>&1 & pids+=($!)
"$bin/gateway" -name gw-b -service pool -listen 127.0.0.1:$((base + 12)) >"$tmp/gw-b.log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$((base + 11))/health" && wait_http "http://127.0.0.1:$((base + 12))/health"

# ---------------------------------------------------------------- latency
latency() {
  # templates/gateway.tmpl + a KV key in the gateway backend (changing it
  # needs a reload) + a second frontend/backend for service "rt" (its
  # server's port changes go through the runtime API).
  cp "$root/templates/gateway.tmpl" "$tmp/lat.tmpl"
  cat >>"$tmp/lat.tmpl" <<EOF

    http-response set-header X-Rev {{ key "rev" }}

frontend rt-in
    bind 127.0.0.1:$((base + 81))
    default_backend rt

backend rt
    balance roundrobin
{{- range service "rt" }}
    server {{ .ID }} {{ .Address }}:{{ .Port }}
{{- end }}
EOF
  "$bt" runtime -consul "$consul_addr" -init -targets "$((base + 11))=gw-a,$((base + 12))=gw-b"
  for v in $VERSIONS; do
    case $v in 2.6) hb=$haproxy_26 ;; 3.0) hb=$haproxy_30 ;; 3.4) hb=$bin/haproxy-3.4 ;; *) hb=$v ;; esac
    d=$tmp/lat-$v; mkdir -p "$d"
    curl -fsS -X PUT -d 0 "http://$consul_addr/v1/kv/rev" >/dev/null
    cat >"$d/harender.hcl" <<EOF
consul { address = "$consul_addr" }
template {
  source      = "$tmp/lat.tmpl"
  params      = { service = "gateway", bind = "127.0.0.1:$((base + 80))", check_path = "/health", system_ca = "${SYSTEM_CA:-off}" }
  destination = "haproxy.cfg"
}
haproxy {
  binary              = "$hb"
  config              = "haproxy.cfg"
  master_socket       = "master.sock"
  runtime_socket      = "admin.sock"
  server_state_file   = "server-state"
  pid_file            = "haproxy.pid"
  start               = true
  reload              = "auto"
  min_reload_interval = "10ms"
}
EOF
    say "latency, HAProxy $v ($("$hb" -v | head -1 | cut -d' ' -f3)); config $d/harender.hcl (no wait block)"
    "$bin/harender" run ${HARENDER_ARGS:-} --config "$d/harender.hcl" --listen 127.0.0.1:$((base + 120)) --log-format json >"$d/harender.log" 2>&1 &
    local hp=$!; pids+=($hp)
    wait_http "http://127.0.0.1:$((base + 120))/healthz"
    wait_http "http://127.0.0.1:$((base + 80))/"
    wait_http "http://127.0.0.1:$((base + 81))/"
    local m0r m0u m0n; m0r=$(metric $((base + 120)) 'harender_haproxy_reloads_total\{result="ok"')
    m0u=$(metric $((base + 120)) 'harender_haproxy_runtime_updates_total\{result="ok"')
    m0n=$(metric $((base + 120)) 'harender_renders_total')
    "$bt" reload -consul "$consul_addr" -url "http://127.0.0.1:$((base + 80))/" -n "$N" -gap "$GAP" -poll "$POLL" \
      -log "$d/harender.log" -csv "$d/reload.csv"
    local m1r m1u m1n; m1r=$(metric $((base + 120)) 'harender_haproxy_reloads_total\{result="ok"')
    m1u=$(metric $((base + 120)) 'harender_haproxy_runtime_updates_total\{result="ok"')
    m1n=$(metric $((base + 120)) 'harender_renders_total')
    echo "  metrics during the reload run: reloads ok +$((m1r - m0r)), runtime updates ok +$((m1u - m0u)), renders +$((m1n - m0n))"
    local ka=""; [ "${KEEPALIVE:-0}" = 1 ] && ka=-keepalive
    "$bt" runtime $ka -consul "$consul_addr" -url "http://127.0.0.1:$((base + 81))/" -n "$N" -gap "$GAP" -poll "$POLL" \
      -targets "$((base + 11))=gw-a,$((base + 12))=gw-b" -log "$d/harender.log" -csv "$d/runtime.csv" \
      -diag "python3 '$root/scripts/bench/hastate.py' '$d/master.sock' '$d/admin.sock' rt"
    # An instance with an HTTP check of its own joins and leaves, as a
    # gateway does: Consul's checks query names its service at once. It is
    # the gateway the moves did not end on.
    local join_target="$((base + 12))=gw-b"
    [ $((N % 2)) = 1 ] && join_target="$((base + 11))=gw-a"
    "$bt" join $ka -consul "$consul_addr" -url "http://127.0.0.1:$((base + 81))/" -n "$N" -gap "$GAP" -poll "$POLL" \
      -target "$join_target" -log "$d/harender.log" -csv "$d/join.csv"
    local m2r m2u m2n; m2r=$(metric $((base + 120)) 'harender_haproxy_reloads_total\{result="ok"')
    m2u=$(metric $((base + 120)) 'harender_haproxy_runtime_updates_total\{result="ok"')
    m2n=$(metric $((base + 120)) 'harender_renders_total')
    echo "  metrics during the runtime run: reloads ok +$((m2r - m1r)), runtime updates ok +$((m2u - m1u)), renders +$((m2n - m1n))"
    echo "  failed reloads/runtime updates: $(metric $((base + 120)) 'harender_haproxy_(reloads|runtime_updates)_total\{result="failed"')"
    curl -fsS "http://127.0.0.1:$((base + 120))/metrics" | grep -E '^harender_change_to_apply_seconds_(bucket|sum|count)' \
      | sed 's/^/  /' >"$d/apply-hist.txt"
    echo "  harender_change_to_apply_seconds (whole run): $(grep -E '_(sum|count)' "$d/apply-hist.txt" | awk '{printf "%s=%s ", $1, $2}')"
    stop_pid "$hp"
  done
}

# ---------------------------------------------------------------- rss
# The 1,000-service template, consul-template compatible (env, not params).
write_big_tmpl() {
  cat >"$tmp/big.tmpl" <<'EOF'
global
    log stderr format short local0 notice
{{- with env "BENCH_RUNTIME_SOCKET" }}
    stats socket {{ . }} mode 600 level admin expose-fd listeners
{{- end }}

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s

frontend fe
    bind {{ env "BENCH_BIND" }}
    http-request return status 200 content-type text/plain string ok
{{ range services }}
backend {{ .Name }}
    balance roundrobin
{{- range service .Name }}
    server {{ .ID }} {{ .Address }}:{{ .Port }} weight {{ or .ServiceMeta.weight "1" }}
{{- end }}
{{ end -}}
EOF
}

registered=0
register_services() {
  [ "$registered" = 1 ] && return 0
  say "registering $SERVICES services (svc-NNNN, one instance each) through the agent API"
  "$bt" register -consul "$consul_addr" -n "$SERVICES" -c 32
  registered=1
}

rss() {
  write_big_tmpl
  register_services
  local d=$tmp/rss; mkdir -p "$d"
  cat >"$d/harender.hcl" <<EOF
consul { address = "$consul_addr" }
template {
  source      = "$tmp/big.tmpl"
  destination = "haproxy.cfg"
}
haproxy {
  binary         = "$haproxy_26"
  config         = "haproxy.cfg"
  master_socket  = "master.sock"
  runtime_socket = "admin.sock"
  pid_file       = "haproxy.pid"
  start          = true
  reload         = "auto"
}
EOF
  say "rss: harender run, $SERVICES-service template -> HAProxy 2.6 (started by harender; reload auto, min_reload_interval 1s, no wait block)"
  local t0; t0=$(date +%s.%N)
  BENCH_RUNTIME_SOCKET=$d/admin.sock BENCH_BIND=127.0.0.1:$((base + 82)) \
    "$bin/harender" run ${HARENDER_ARGS:-} --config "$d/harender.hcl" --listen 127.0.0.1:$((base + 120)) --log-format json >"$d/harender.log" 2>&1 &
  local hp=$!; pids+=($hp)
  wait_http "http://127.0.0.1:$((base + 120))/healthz" 1200
  echo "  first apply (render + haproxy -c + start) after $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s;" \
    "$(grep -c '^backend ' "$d/haproxy.cfg") backends, $(grep -c '^    server ' "$d/haproxy.cfg") servers," \
    "dependencies=$(metric $((base + 120)) harender_dependencies)"
  "$bt" rss -pid "$hp" -d "${IDLE}s" -label "  idle ${IDLE}s after first render"
  local r0 n0 u0; r0=$(metric $((base + 120)) 'harender_haproxy_reloads_total\{result="ok"')
  n0=$(metric $((base + 120)) 'harender_renders_total')
  u0=$(metric $((base + 120)) 'harender_haproxy_runtime_updates_total\{result="ok"')
  "$bt" rss -pid "$hp" -d "$((CHURN + 5))s" -label "  churn ${CHURN}s (+5s tail)" &
  local rp=$!
  "$bt" churn -consul "$consul_addr" -n "$SERVICES" -d "${CHURN}s" -every 100ms | sed 's/^/  /'
  wait "$rp"
  echo "  during churn: renders +$(($(metric $((base + 120)) 'harender_renders_total') - n0))" \
    "(by result: $(curl -fsS "http://127.0.0.1:$((base + 120))/metrics" | grep -E '^harender_renders_total' | sed 's/harender_renders_total//' | tr '\n' ' '))," \
    "reloads ok +$(($(metric $((base + 120)) 'harender_haproxy_reloads_total\{result="ok"') - r0))," \
    "runtime updates ok +$(($(metric $((base + 120)) 'harender_haproxy_runtime_updates_total\{result="ok"') - u0))," \
    "failed: $(metric $((base + 120)) 'harender_haproxy_(reloads|runtime_updates)_total\{result="failed"|harender_haproxy_check_failures_total')"
  curl -fsS "http://127.0.0.1:$((base + 120))/metrics" | grep -E '^(process_resident_memory_bytes|go_memstats_heap_inuse_bytes|go_goroutines) ' | sed 's/^/  /'
  "$bt" rss -pid "$hp" -d 10s -label "  10s after churn"
  stop_pid "$hp"
}

# ---------------------------------------------------------------- requests
requests() {
  write_big_tmpl
  register_services
  cat >"$tmp/small.tmpl" <<'EOF'
backend gateway
    balance roundrobin
{{- range service "gateway" }}
    server {{ .ID }} {{ .Address }}:{{ .Port }} check
{{- end }}
EOF
  local d=$tmp/req; mkdir -p "$d"
  local k=0 tool tpl port ppids=() tpids=()
  say "requests: 4 runs at once (harender / consul-template x big / small), each behind its own counting proxy"
  for tpl in big small; do
    for tool in harender consul-template; do
      k=$((k + 1)); port=$((base + 500 + k))
      "$bt" proxy -listen 127.0.0.1:$port -target "$consul_addr" -logq 3 2>"$d/proxy-$tool-$tpl.txt" &
      ppids+=($!); pids+=($!)
      wait_http "http://127.0.0.1:$port/__bench/counts"
      if [ $tool = harender ]; then
        cat >"$d/$tool-$tpl.hcl" <<EOF
consul { address = "127.0.0.1:$port" }
template {
  source      = "$tmp/$tpl.tmpl"
  destination = "$tool-$tpl.out"
}
EOF
        BENCH_RUNTIME_SOCKET="" BENCH_BIND=127.0.0.1:1 "$bin/harender" run --config "$d/$tool-$tpl.hcl" \
          --listen 127.0.0.1:$((base + 120 + k)) --log-level warn >"$d/$tool-$tpl.log" 2>&1 &
      else
        BENCH_RUNTIME_SOCKET="" BENCH_BIND=127.0.0.1:1 "$bin/consul-template" -consul-addr 127.0.0.1:$port \
          -template "$tmp/$tpl.tmpl:$d/$tool-$tpl.out" -log-level=err >"$d/$tool-$tpl.log" 2>&1 &
      fi
      tpids+=($!); pids+=($!)
    done
  done
  # Wait for every first render (the big ones: all backends present).
  local want_big=$((SERVICES + 1)) # svc-* plus "consul"
  for f in harender-big consul-template-big harender-small consul-template-small; do
    for _ in $(seq 1200); do
      if [ -s "$d/$f.out" ]; then
        case $f in *big) [ "$(grep -c '^backend ' "$d/$f.out")" -ge "$want_big" ] && break ;; *) break ;; esac
      fi
      sleep 0.1
    done
    echo "  $f: first render done ($(grep -c '^    server ' "$d/$f.out" 2>/dev/null) servers)"
  done
  sleep 2
  k=0
  for tpl in big small; do for tool in harender consul-template; do
    k=$((k + 1)); curl -fsS -X POST "http://127.0.0.1:$((base + 500 + k))/__bench/reset" >/dev/null
  done; done
  local h0b h0s; h0b=$(metric $((base + 121)) harender_consul_requests_total); h0s=$(metric $((base + 123)) harender_consul_requests_total)
  echo "  counting for ${REQ_SECONDS}s with Consul idle..."
  sleep "$REQ_SECONDS"
  k=0
  for tpl in big small; do for tool in harender consul-template; do
    k=$((k + 1))
    echo "  -- $tool, $tpl template:"
    curl -fsS "http://127.0.0.1:$((base + 500 + k))/__bench/counts" | sed 's/^/     /'
    grep -m2 '^request' "$d/proxy-$tool-$tpl.txt" | sed 's/^/     first /'
  done; done
  echo "  harender's own harender_consul_requests_total over the window: big +$(($(metric $((base + 121)) harender_consul_requests_total) - h0b)), small +$(($(metric $((base + 123)) harender_consul_requests_total) - h0s))"
  for p in "${tpids[@]}"; do stop_pid "$p"; done
  cmp -s "$d/harender-big.out" "$d/consul-template-big.out" && echo "  big outputs identical" || echo "  big outputs DIFFER"
  cmp -s "$d/harender-small.out" "$d/consul-template-small.out" && echo "  small outputs identical" || echo "  small outputs DIFFER"
}

for ph in "${phases[@]}"; do
  case $ph in
    latency) latency ;; rss) rss ;; requests) requests ;;
    *) echo "sidecar.sh: unknown phase $ph" >&2; exit 2 ;;
  esac
done
say "done; load $(cut -d' ' -f1-3 /proc/loadavg)"
