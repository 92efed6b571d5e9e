#!/usr/bin/env bash
# peers.sh: write keepalived.conf for this node from keepalived.conf.tmpl,
# with unicast_peer = the private IPs of the other instances of this
# instance's auto-scaling group (launching or in service), and reload
# keepalived when it changed. Runs at boot and every minute
# (harender-peers.timer): a replaced spot instance comes with a new address.
# A peer that has left stays in the file until another one comes. With no
# peer at all (first boot, alone) the unicast_peer block is left out:
# keepalived then advertises to the VRRP multicast group (it logs that this
# is deprecated), which reaches no one on AWS, so this node alone takes the
# VIP; the peer is added when it appears.
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"
conf=${KEEPALIVED_CONF:-/etc/keepalived/keepalived.conf}
tmpl=${KEEPALIVED_TMPL:-$here/keepalived.conf.tmpl}
reload=${RELOAD:-systemctl reload-or-restart keepalived}

token=$(retry 3 imds_token) || exit 1
id=$(imds meta-data/instance-id "$token") || exit 1
region=$(imds meta-data/placement/region "$token") || exit 1
self=$(imds meta-data/local-ipv4 "$token") || exit 1
asg=$(retry 3 aws autoscaling describe-auto-scaling-instances --region "$region" --instance-ids "$id" \
  --query 'AutoScalingInstances[0].AutoScalingGroupName' --output text) || exit 1
others=$(retry 3 aws autoscaling describe-auto-scaling-groups --region "$region" --auto-scaling-group-names "$asg" \
  --query 'AutoScalingGroups[0].Instances[?!starts_with(LifecycleState, `Terminat`) && !starts_with(LifecycleState, `Detach`)].InstanceId' \
  --output text) || exit 1
others=$(tr -s ' \t' '\n\n' <<<"$others" | grep -vx -e "$id" -e '' -e None | sort)
peers=
if [ -n "$others" ]; then
  # shellcheck disable=SC2086
  peers=$(retry 3 aws ec2 describe-instances --region "$region" --instance-ids $others \
    --query 'Reservations[].Instances[].PrivateIpAddress' --output text) || exit 1
  peers=$(tr -s ' \t' '\n\n' <<<"$peers" | grep -vx -e "$self" -e '' -e None | sort -u)
fi

if [ -z "$peers" ] && [ -s "$conf" ]; then
  # The peer is gone (a spot instance reclaimed): keep its address until
  # the group has launched the next one.
  exit 0
fi
block=
if [ -n "$peers" ]; then
  block="unicast_src_ip $self"$'\n'"  unicast_peer {"$'\n'"$(sed 's/^/    /' <<<"$peers")"$'\n'"  }"
fi
dev=${VIP_DEVICE:-$(ip -o route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')}
new=$(mktemp)
trap 'rm -f "$new"' EXIT
vip="127.255.0.51/32 dev lo"
[ -n "${EIP_ALLOCATION_ID:-}" ] || [ -z "${PRIVATE_VIP:-}" ] || vip="$PRIVATE_VIP/32 dev $dev"
VIP=$vip SELF=$self DEV=$dev BLOCK=$block LIB=$(cd "$here" && pwd) awk '
  { gsub(/@SELF_IP@/, ENVIRON["SELF"]); gsub(/@INTERFACE@/, ENVIRON["DEV"]); gsub(/@LIB@/, ENVIRON["LIB"]); gsub(/@VIP@/, ENVIRON["VIP"]) }
  /@UNICAST@/ { if (ENVIRON["BLOCK"] != "") print "  " ENVIRON["BLOCK"]; next }
  { print }' "$tmpl" >"$new"
if cmp -s "$new" "$conf"; then
  exit 0
fi
install -m 0644 "$new" "$conf"
log "keepalived.conf: self $self, peers: ${peers:-none}; reloading keepalived"
$reload
