#!/usr/bin/env bash
# spot-watch.sh: wait for the spot two-minute interruption notice (IMDS
# meta-data/spot/instance-action: 404 until AWS schedules a stop or
# termination), then give the VIP up at once, while this node still
# serves: HANDOVER (default: systemctl stop keepalived) makes keepalived
# send a priority-0 advert, the peer becomes MASTER within a fraction of a
# second and moves the VIP to itself (vip.sh master). HAProxy and harender
# keep running here for the requests still arriving until the VIP has moved.
# Runs as harender-spot-watch.service; exits after the hand-over.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
every=${SPOT_POLL_INTERVAL:-5}
handover=${HANDOVER:-systemctl stop keepalived}

token=
while :; do
  # A fresh token when the old one stops working (6 h TTL, IMDS restarts).
  [ -n "$token" ] || token=$(imds_token) || token=
  if [ -n "$token" ]; then
    code=$(curl -s -o /tmp/harender-spot-action.$$ -w '%{http_code}' --max-time 2 \
      -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/meta-data/spot/instance-action")
    case $code in
    200)
      log "spot interruption notice: $(cat /tmp/harender-spot-action.$$); handing the VIP over: $handover"
      rm -f /tmp/harender-spot-action.$$
      $handover || { log "hand-over command failed"; exit 1; }
      exit 0
      ;;
    401) token= ;;
    esac
  fi
  rm -f /tmp/harender-spot-action.$$
  sleep "$every"
done
