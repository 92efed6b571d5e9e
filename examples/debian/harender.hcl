# harender beside Debian's own haproxy.service. The .deb installs this file
# as /etc/harender/harender.hcl (a conffile: your edits survive upgrades).
#
# Who does what:
#   haproxy.service (Debian's, unchanged) runs HAProxy in master-worker mode:
#     /usr/sbin/haproxy -Ws -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid \
#       -S /run/haproxy-master.sock
#   harender.service renders /etc/haproxy/haproxy.cfg from Consul, checks it
#   with haproxy -c, and brings HAProxy along through the runtime socket
#   (server changes) or a reload on the master socket (anything else). It
#   does not start or stop HAProxy (start = false): systemd does.
#
# Before the first start:
#   1. Set the service name and the bind address below.
#   2. Keep a copy of Debian's haproxy.cfg: harender replaces it whole.
#   3. harender check --config /etc/harender/harender.hcl
#   4. systemctl enable --now harender
#      (systemctl start returns once haproxy.cfg has been applied:
#      Type=notify, READY=1 after the first successful apply.)
#   journalctl -u harender; curl -s 127.0.0.1:9120/healthz
#
# Relative paths are relative to this file's directory.

consul {
  # The local Consul client agent. Or set CONSUL_HTTP_ADDR in
  # /etc/default/harender.
  address = "127.0.0.1:8500"
  # An ACL token, read from a file and never logged (or CONSUL_HTTP_TOKEN_FILE).
  # token_file = "/etc/harender/consul.token"
  retry {
    backoff     = "250ms"
    max_backoff = "30s"
  }
}

# Quiescence: render once changes have stopped for min, at most max after the
# first. Never delays the first render.
wait {
  min = "100ms"
  max = "1s"
}

# The built-in template "gateway": one Consul service behind one HTTP
# frontend. For your own, use source = "/etc/harender/haproxy.cfg.tmpl"
# (consul-template syntax) instead of builtin and params.
template {
  builtin = "gateway"
  params = {
    service        = "gateway"      # the Consul service to balance
    bind           = "0.0.0.0:80"   # the frontend; on a VRRP pair, the VIP's port
    check_path     = "/health"
    runtime_socket = "/run/haproxy/admin.sock"
    state_file     = "/var/lib/haproxy/server-state"
  }
  destination = "/etc/haproxy/haproxy.cfg"
  perms       = "0644"
  backup      = true # keeps the previous file as haproxy.cfg.bak
}

haproxy {
  binary  = "/usr/sbin/haproxy"
  config  = "/etc/haproxy/haproxy.cfg"
  # Debian's unit passes -S /run/haproxy-master.sock (EXTRAOPTS in
  # /lib/systemd/system/haproxy.service): reloads go through it, and
  # HAProxy's master keeps its pid, so systemd sees no restart.
  master_socket = "/run/haproxy-master.sock"
  # The stats socket the template renders (params.runtime_socket above):
  # server address, weight and state changes go through it, no reload.
  # /run/haproxy exists while haproxy.service runs (Debian's package makes it).
  runtime_socket    = "/run/haproxy/admin.sock"
  server_state_file = "/var/lib/haproxy/server-state"
  reload            = "auto"
  # haproxy.service runs HAProxy; harender must not start a second one.
  start = false
}

# /metrics (Prometheus) and /healthz (200 when HAProxy runs the last render;
# keepalived can track it).
listen    = "127.0.0.1:9120"
log_level = "info"
# systemd's journal adds its own timestamps; json is there for log shippers.
log_format = "text"
