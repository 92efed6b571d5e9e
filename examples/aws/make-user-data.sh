#!/usr/bin/env bash
# make-user-data.sh > user-data.sh: the launch template's user data: the
# settings (node.env.example, edit them in user-data.sh) and this folder's
# scripts as a base64 tar.gz (user data is capped at 16 KB), unpacked into
# /usr/local/lib/harender-aws, then setup.sh. Run it after editing a script;
# examples/aws's test checks user-data.sh carries the files as they are.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
files="lib.sh vip.sh spot-watch.sh peers.sh setup.sh keepalived.conf.tmpl harender.hcl
harender-peers.service harender-peers.timer harender-spot-watch.service"
cat <<HEAD
#!/bin/bash
# cloud-init user data for the harender load-balancer pair: an auto-scaling
# group of two (spot) instances, Debian 12. Made by examples/aws/make-user-data.sh;
# edit the settings below, not the archive.
set -euo pipefail
mkdir -p /etc/harender-aws /usr/local/lib/harender-aws
cat >/etc/harender-aws/node.env <<'ENV'
$(cat node.env.example)
ENV
base64 -d <<'TAR' | tar -xz -C /usr/local/lib/harender-aws
HEAD
# shellcheck disable=SC2086
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - $files | gzip -9n | base64 -w 76
cat <<'TAIL'
TAR
exec /usr/local/lib/harender-aws/setup.sh
TAIL
