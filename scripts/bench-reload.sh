#!/usr/bin/env bash
# bench-reload.sh: how many requests does one HAProxy reload cost?
#
# Starts a Consul dev agent, four gateway instances (gw-4 is the one that
# churns) and, per run, HAProxy in master-worker mode rendered by
# `harender render`. wrk drives 32 keep-alive connections for DURATION
# seconds; meanwhile K reloads are triggered, each by toggling gw-4 in Consul
# (deregister / register through the agent API) and then running
# `harender render --config X.hcl --reload`. wrk's own counts are reported.
# Everything listens on loopback; files live in a mktemp dir.
#
# usage: scripts/bench-reload.sh [-r RUNS] [-k RELOADS] [-i INTERVAL] [-d SECONDS]
#                                [-H "2.6 3.0"] [-V "before after"]
#   -r RUNS      runs per (haproxy, variant) combination      (default 3)
#   -k RELOADS   reloads per run                              (default 20)
#   -i INTERVAL  seconds between reload starts                (default 0.8)
#   -d SECONDS   wrk duration; reloads start after 2 s        (default 20)
#   -H LIST      HAProxy versions: 2.6 (/usr/sbin/haproxy), 3.0 (bin/haproxy-3.0)
#   -V LIST      template variants (runs are interleaved per round):
#      before    templates/gateway.tmpl without close-spread-time,
#                hard-stop-after and option idle-close-on-response
#      after     the built-in template "gateway" as shipped
#      icr       only option idle-close-on-response (no close-spread-time, no hard-stop-after)
#      spread    only close-spread-time 1s + hard-stop-after 30s (no idle-close-on-response)
#      ka1s      after + timeout http-keep-alive 1s
#      spread0   after with close-spread-time 0s
#      nospread  after without close-spread-time (idle-close-on-response + hard-stop-after)
#      hsclose   before + option http-server-close (server side only; clients keep-alive)
#      k0        after, but reloads are sent without changing Consul (same config)
# env: HAPROXY_26, HAPROXY_30 (binaries), PORT_BASE (default 27000: Consul HTTP
#      PORT_BASE+500, server/serf +300..302, frontend +80), KEEP=1 keeps the
#      temp dir, PIN=1 pins HAProxy to CPU 0 and wrk to CPU 1 (taskset),
#      BUILD=1 rebuilds bin/harender and bin/gateway first (else only if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/bin

runs=3 reloads=20 interval=0.8 duration=20 versions="2.6 3.0" variants="before after"
while getopts "r:k:i:d:H:V:h" o; do
  case $o in
    r) runs=$OPTARG ;; k) reloads=$OPTARG ;; i) interval=$OPTARG ;; d) duration=$OPTARG ;;
    H) versions=$OPTARG ;; V) variants=$OPTARG ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
  esac
done

haproxy_26=${HAPROXY_26:-/usr/sbin/haproxy}
haproxy_30=${HAPROXY_30:-$bin/haproxy-3.0}
base=${PORT_BASE:-27000}
http_port=$((base + 500)) bind_port=$((base + 80))
consul_addr=127.0.0.1:$http_port

for t in wrk curl python3; do command -v "$t" >/dev/null || { echo "bench-reload: $t not found" >&2; exit 1; }; done
if [ "${BUILD:-0}" = 1 ] || [ ! -x "$bin/harender" ]; then go build -o "$bin/harender" ./cmd/harender; fi
if [ "${BUILD:-0}" = 1 ] || [ ! -x "$bin/gateway" ]; then go build -o "$bin/gateway" ./examples/gateway; fi

tmp=$(mktemp -d -t bench-reload.XXXXXX)
pids=()     # long-lived: consul, gateways
hapid=""    # HAProxy master of the current run
wrkpid=""
cleanup() {
  set +e
  [ -n "$wrkpid" ] && kill "$wrkpid" 2>/dev/null
  [ -n "$hapid" ] && kill "$hapid" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "bench-reload: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# With PIN=1 HAProxy runs on CPU 0 and wrk on CPU 1 (taskset execs, so $!
# stays the real PID).
pin_ha=() pin_wrk=()
if [ "${PIN:-0}" = 1 ]; then pin_ha=(taskset -c 0) pin_wrk=(taskset -c 1); fi

# master CMD: one command on the HAProxy master CLI socket of the current run.
master() {
  python3 - "$tmp/master.sock" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(3)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.decode())
EOF
}

# ---- Consul and the gateways ------------------------------------------------
"$bin/consul" agent -dev -node bench -bind 127.0.0.1 -client 127.0.0.1 \
  -http-port "$http_port" -dns-port -1 -grpc-port -1 -grpc-tls-port -1 \
  -server-port $((base + 300)) -serf-lan-port $((base + 301)) -serf-wan-port $((base + 302)) \
  >"$tmp/consul.log" 2>&1 &
pids+=($!)
for _ in $(seq 150); do curl -fsS "http://$consul_addr/v1/status/leader" 2>/dev/null | grep -q ":$((base + 300))" && break; sleep 0.1; done
curl -fsS "http://$consul_addr/v1/status/leader" | grep -q ":$((base + 300))" || { echo "bench-reload: consul did not start, see $tmp/consul.log" >&2; KEEP=1; exit 1; }

for i in 1 2 3 4; do
  "$bin/gateway" -name "gw-$i" -service gateway -consul "$consul_addr" >"$tmp/gw-$i.log" 2>&1 &
  pids+=($!)
done
gw4=""
for _ in $(seq 100); do
  gw4=$(sed -n 's/.*serving on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$tmp/gw-4.log")
  n=$({ curl -fsS "http://$consul_addr/v1/health/service/gateway?passing" || true; } | { grep -o '"ServiceID": *"gw-[0-9]"' || true; } | sort -u | wc -l)
  [ -n "$gw4" ] && [ "$n" = 4 ] && break; sleep 0.2
done
[ "$n" = 4 ] || { echo "bench-reload: gateways not registered, see $tmp/gw-*.log" >&2; KEEP=1; exit 1; }
gw4_port=${gw4##*:}
gw4_reg=$(printf '{"ID":"gw-4","Name":"gateway","Address":"127.0.0.1","Port":%s,"Check":{"HTTP":"http://%s/health","Interval":"1s","Timeout":"1s","Status":"passing"}}' "$gw4_port" "$gw4")
gw4_up=1
toggle_gw4() {
  if [ "$gw4_up" = 1 ]; then
    curl -fsS -X PUT "http://$consul_addr/v1/agent/service/deregister/gw-4" >/dev/null && gw4_up=0
  else
    curl -fsS -X PUT --data "$gw4_reg" "http://$consul_addr/v1/agent/service/register" >/dev/null && gw4_up=1
  fi
}
# ensure_gw4_up: every run starts with the four instances.
ensure_gw4_up() { [ "$gw4_up" = 1 ] || toggle_gw4; }

# ---- templates and harender configs ------------------------------------------
src=$root/templates/gateway.tmpl
strip3() { sed -e '/^[[:space:]]*close-spread-time /d' -e '/^[[:space:]]*hard-stop-after /d' -e '/^[[:space:]]*option idle-close-on-response/d' "$src"; }
make_template() { # make_template VARIANT -> prints "builtin" or a template path
  local v=$1 f=$tmp/gateway-$1.tmpl
  case $v in
    after|k0) echo builtin; return ;;
    before)  strip3 >"$f" ;;
    icr)     strip3 | sed '/^[[:space:]]*mode http$/a\    option idle-close-on-response' >"$f" ;;
    spread)  sed '/^[[:space:]]*option idle-close-on-response/d' "$src" >"$f" ;;
    ka1s)    sed 's/^\([[:space:]]*timeout http-keep-alive\) .*/\1 1s/' "$src" >"$f" ;;
    spread0) sed 's/^\([[:space:]]*close-spread-time\) .*/\1 0s/' "$src" >"$f" ;;
    nospread) sed '/^[[:space:]]*close-spread-time /d' "$src" >"$f" ;;
    hsclose) strip3 | sed '/^[[:space:]]*mode http$/a\    option http-server-close' >"$f" ;;
    *) echo "bench-reload: unknown variant $v" >&2; exit 2 ;;
  esac
  echo "$f"
}
make_hcl() { # make_hcl VARIANT HAPROXY_BIN -> writes $tmp/harender.hcl
  local t
  t=$(make_template "$1")
  {
    printf 'consul {\n  address = "%s"\n}\n\n' "$consul_addr"
    printf 'template {\n'
    if [ "$t" = builtin ]; then printf '  builtin     = "gateway"\n'; else printf '  source      = "%s"\n' "$t"; fi
    printf '  params      = { service = "gateway", bind = "127.0.0.1:%s", check_path = "/health" }\n' "$bind_port"
    printf '  destination = "%s/haproxy.cfg"\n}\n\n' "$tmp"
    printf 'haproxy {\n  binary        = "%s"\n  config        = "%s/haproxy.cfg"\n  master_socket = "%s/master.sock"\n}\n' "$2" "$tmp" "$tmp"
  } >"$tmp/harender.hcl"
}

# ---- one run -------------------------------------------------------------------
results=$tmp/results.tsv
printf 'haproxy\tvariant\trun\treloads\tshow_proc\trequests\treq/s\tread\tconnect\twrite\ttimeout\tnon2xx\terr/reload\n' >"$results"

one_run() { # one_run VERSION VARIANT RUN
  local ver=$1 var=$2 run=$3 hb
  case $ver in 2.6) hb=$haproxy_26 ;; 3.0) hb=$haproxy_30 ;; *) hb=$ver ;; esac
  local log=$tmp/run-$ver-$var-$run
  ensure_gw4_up
  make_hcl "$var" "$hb"
  rm -f "$tmp/haproxy.cfg" "$tmp/master.sock"
  "$bin/harender" render --config "$tmp/harender.hcl" --timeout 30s >"$log.render.log" 2>&1 ||
    { echo "bench-reload: render failed, see $log.render.log" >&2; KEEP=1; exit 1; }
  cp "$tmp/haproxy.cfg" "$log.haproxy.cfg"
  "${pin_ha[@]}" "$hb" -W -S "$tmp/master.sock" -f "$tmp/haproxy.cfg" >"$log.haproxy.log" 2>&1 &
  hapid=$!
  for _ in $(seq 50); do [ -S "$tmp/master.sock" ] && curl -fsS -o /dev/null "http://127.0.0.1:$bind_port/" 2>/dev/null && break; sleep 0.1; done
  curl -fsS -o /dev/null "http://127.0.0.1:$bind_port/" || { echo "bench-reload: haproxy $ver not serving, see $log.haproxy.log" >&2; KEEP=1; exit 1; }
  sleep 1

  "${pin_wrk[@]}" wrk -t2 -c32 -d"${duration}s" "http://127.0.0.1:$bind_port/" >"$log.wrk.txt" 2>&1 &
  wrkpid=$!
  sleep 2
  local ok=0 i t0 t1 dt
  for i in $(seq "$reloads"); do
    t0=$(date +%s.%N)
    [ "$var" = k0 ] || toggle_gw4
    if "$bin/harender" render --config "$tmp/harender.hcl" --reload --timeout 10s >>"$log.render.log" 2>&1; then
      ok=$((ok + 1))
    fi
    t1=$(date +%s.%N)
    printf '%s reload %d took %.3fs\n' "$(date +%T.%N)" "$i" "$(echo "$t1 - $t0" | bc)" >>"$log.reloads.log"
    dt=$(echo "$interval - ($t1 - $t0)" | bc)
    case $dt in -*|0) ;; *) sleep "$dt" ;; esac
  done
  wait "$wrkpid" || true
  wrkpid=""
  local proc
  proc=$(master "show proc" 2>/dev/null || true)
  printf '%s\n' "$proc" >"$log.showproc.txt"
  # The master line: "<pid> master <reloads> <uptime> <version>".
  local sp
  sp=$(printf '%s\n' "$proc" | awk '$2 == "master" {print $3; exit}')
  kill "$hapid" 2>/dev/null || true
  wait "$hapid" 2>/dev/null || true
  hapid=""
  # The next run must not share the port with a worker of this one.
  for _ in $(seq 100); do ss -Htln "sport = :$bind_port" | grep -q . || break; sleep 0.1; done
  if ss -Htln "sport = :$bind_port" | grep -q .; then echo "bench-reload: port $bind_port still in use after run" >&2; exit 1; fi

  local w=$log.wrk.txt req rps c=0 r=0 wr=0 to=0 n2=0 se
  req=$(awk '/requests in/ {print $1}' "$w")
  rps=$(awk '/^Requests\/sec/ {print $2}' "$w")
  se=$(sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$w")
  [ -n "$se" ] && read -r c r wr to <<<"$se"
  n2=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$w"); n2=${n2:-0}
  local per=-
  [ "$ok" -gt 0 ] && per=$(echo "scale=2; ($c + $r + $wr + $to + $n2) / $ok" | bc)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$ver" "$var" "$run" "$ok" "${sp:-?}" "${req:-?}" "${rps:-?}" "$r" "$c" "$wr" "$to" "$n2" "$per" | tee -a "$results"
}

echo "bench-reload: tmp $tmp; $runs run(s) x {$versions} x {$variants}; $reloads reloads every ${interval}s during ${duration}s of wrk -t2 -c32" >&2
head -1 "$results"
for run in $(seq "$runs"); do
  for ver in $versions; do
    for var in $variants; do
      one_run "$ver" "$var" "$run"
    done
  done
done

echo
echo "== results (err/reload = all wrk errors + non-2xx, over successful render --reload calls)"
column -t -s $'\t' "$results"
echo
echo "== mean err/reload per combination"
awk -F'\t' 'NR > 1 && $13 != "-" {k = $1 " " $2; s[k] += $13; n[k]++; if (!(k in o)) {o[k] = ++m; key[m] = k}}
  END {for (i = 1; i <= m; i++) printf "%-20s %6.2f  (%d runs)\n", key[i], s[key[i]] / n[key[i]], n[key[i]]}' "$results"
