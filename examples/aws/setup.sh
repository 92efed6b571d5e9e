#!/usr/bin/env bash
# setup.sh: first-boot set-up of a load balancer of the pair, run as root by
# the user data after it has unpacked this folder into
# /usr/local/lib/harender-aws and written /etc/harender-aws/node.env.
# Installs HAProxy, keepalived and the AWS CLI from Debian, the Consul client
# agent and harender from their .debs in DEBS_S3, then starts, in order:
# consul, harender (which starts HAProxy), keepalived, the peer timer and the
# spot watcher. The instance profile needs: s3:GetObject on DEBS_S3,
# ec2:AssociateAddress or ec2:AssignPrivateIpAddresses, ec2:DescribeInstances,
# autoscaling:DescribeAutoScalingInstances, autoscaling:DescribeAutoScalingGroups.
set -euxo pipefail
lib=/usr/local/lib/harender-aws
. /etc/harender-aws/node.env
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
apt-get install -y -q haproxy keepalived awscli curl
# harender runs HAProxy itself (it knows at once when HAProxy dies).
systemctl disable --now haproxy.service

debs=$(mktemp -d)
aws s3 cp --recursive --exclude '*' --include 'harender_*_amd64.deb' --include 'consul_*_amd64.deb' "$DEBS_S3/" "$debs/"
apt-get install -y -q "$debs"/consul_*_amd64.deb "$debs"/harender_*_amd64.deb

# The Consul client agent.
cat >/etc/consul.d/client.hcl <<CONSUL
datacenter = "$CONSUL_DATACENTER"
data_dir   = "/opt/consul"
server     = false
bind_addr  = "{{ GetPrivateIP }}"
client_addr = "127.0.0.1"
retry_join = ["$CONSUL_RETRY_JOIN"]
CONSUL
systemctl enable --now consul.service

# harender, with the VRRP weight file the unit's ExecStopPost writes too.
sed -e "s|@SERVICE@|$GATEWAY_SERVICE|" -e "s|@BIND@|$BIND|" "$lib/harender.hcl" >/etc/harender/harender.hcl
harender check --config /etc/harender/harender.hcl
echo "HARENDER_VRRP_WEIGHT_FILE=/run/harender/vrrp-weight" >/etc/default/harender
systemctl enable harender.service
# Returns once HAProxy runs the first haproxy.cfg (Type=notify), or after
# TimeoutStartSec while Consul has not answered; keepalived keeps this node
# BACKUP (or FAULT) until the weight file says 0 either way.
systemctl start harender.service || true

# keepalived, with the peers of the auto-scaling group.
chmod 0755 "$lib"/*.sh
"$lib/peers.sh"
systemctl enable --now keepalived.service
install -m 0644 "$lib"/harender-peers.service "$lib"/harender-peers.timer "$lib"/harender-spot-watch.service /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now harender-peers.timer harender-spot-watch.service
