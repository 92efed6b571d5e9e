# harender on a load balancer of the AWS pair; setup.sh installs it as
# /etc/harender/harender.hcl with @SERVICE@ and @BIND@ filled in.
# harender starts HAProxy itself (Debian's haproxy.service is disabled), so
# it knows the moment HAProxy dies and tells keepalived through the weight
# file; keepalived's track_file reads it (keepalived.conf).
consul {
  address = "127.0.0.1:8500"
  retry {
    backoff     = "100ms"
    max_backoff = "5s"
  }
}

wait {
  min = "100ms"
  max = "1s"
}

template {
  builtin     = "gateway"
  params      = { service = "@SERVICE@", bind = "@BIND@", check_path = "/health" }
  destination = "/etc/haproxy/haproxy.cfg"
}

haproxy {
  binary            = "/usr/sbin/haproxy"
  config            = "/etc/haproxy/haproxy.cfg"
  master_socket     = "/run/harender/master.sock"
  runtime_socket    = "/run/harender/admin.sock"
  server_state_file = "/run/harender/server-state"
  pid_file          = "/run/harender/haproxy.pid"
  start             = true
  # "0" while HAProxy runs what was applied, "-254" while not. The unit's
  # ExecStopPost writes -254 too (HARENDER_VRRP_WEIGHT_FILE).
  vrrp_weight_file = "/run/harender/vrrp-weight"
  # systemctl stop harender: give the VIP up, then wait this long (the peer
  # moves the EIP: an AWS API call) before stopping HAProxy.
  vrrp_handover_delay = "5s"
}

listen = "127.0.0.1:9120"
