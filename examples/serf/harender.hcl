# harender on Serf: the members of the local Serf agent's cluster tagged
# role=gateway, each announcing its HTTP port in the tag port (serf agent
# -tag role=gateway -tag port=8081), behind HAProxy on 127.0.0.1:8080.
# No Consul is needed. Relative paths are relative to this file; the run/
# folder holds HAProxy's files and sockets.
serf {
  rpc_addr = "127.0.0.1:7373"          # the local agent's -rpc-addr (this is Serf's default)
  # rpc_auth_file = "/etc/harender/serf-rpc.key"  # if the agent sets rpc_auth; never logged
}

wait {
  min = "100ms"
  max = "1s"
}

template {
  builtin     = "gateway"
  params      = { source = "serf", serf_filter = "role=gateway", port_tag = "port", bind = "127.0.0.1:8080", check_path = "/health" }
  destination = "run/haproxy.cfg"
}

haproxy {
  config              = "run/haproxy.cfg"
  master_socket       = "run/master.sock"
  runtime_socket      = "run/admin.sock"
  server_state_file   = "run/server-state"
  start               = true
  pid_file            = "run/haproxy.pid"
  reload              = "auto"
  min_reload_interval = "1s"
}
