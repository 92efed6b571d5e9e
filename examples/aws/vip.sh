#!/usr/bin/env bash
# vip.sh master|backup|fault|stop: keepalived's notify script. On master,
# move the virtual IP to this instance with the AWS CLI:
#   EIP_ALLOCATION_ID set: associate the Elastic IP with this instance
#     (works across availability zones);
#   PRIVATE_VIP set: reassign that secondary private IP to this instance's
#     primary network interface (both instances in the same subnet);
#     keepalived adds it to the interface (virtual_ipaddress).
# On backup, fault and stop there is nothing to undo: the peer takes the
# VIP when it becomes MASTER (moving it away would leave no one holding it).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
state=${1:?usage: vip.sh master|backup|fault|stop}

case $state in
master)
  token=$(retry 5 imds_token) || { log "no IMDS token; cannot take the VIP"; exit 1; }
  id=$(imds meta-data/instance-id "$token") || { log "no instance id from IMDS"; exit 1; }
  region=$(imds meta-data/placement/region "$token") || { log "no region from IMDS"; exit 1; }
  if [ -n "${EIP_ALLOCATION_ID:-}" ]; then
    log "MASTER: associating $EIP_ALLOCATION_ID with $id"
    retry 5 aws ec2 associate-address --region "$region" --allocation-id "$EIP_ALLOCATION_ID" \
      --instance-id "$id" --allow-reassociation --output text >/dev/null || exit 1
  elif [ -n "${PRIVATE_VIP:-}" ]; then
    mac=$(imds meta-data/mac "$token") || { log "no MAC from IMDS"; exit 1; }
    eni=$(imds "meta-data/network/interfaces/macs/$mac/interface-id" "$token") || { log "no ENI from IMDS"; exit 1; }
    log "MASTER: assigning $PRIVATE_VIP to $eni ($id)"
    retry 5 aws ec2 assign-private-ip-addresses --region "$region" --network-interface-id "$eni" \
      --private-ip-addresses "$PRIVATE_VIP" --allow-reassignment >/dev/null || exit 1
  else
    log "neither EIP_ALLOCATION_ID nor PRIVATE_VIP is set in $HARENDER_AWS_ENV"; exit 1
  fi
  log "MASTER: the VIP is here"
  ;;
backup|fault|stop)
  log "${state^^}: not holding the VIP"
  ;;
*) echo "usage: vip.sh master|backup|fault|stop" >&2; exit 2 ;;
esac
