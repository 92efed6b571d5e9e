# The demo's harender config: three gateway instances of service "gateway"
# behind HAProxy on 127.0.0.1:8080. Relative paths are relative to this file;
# the run/ folder holds HAProxy's files and sockets.
consul {
  address = "127.0.0.1:18500"
  retry {
    backoff     = "250ms"
    max_backoff = "5s"
  }
}

wait {
  min = "100ms"
  max = "1s"
}

template {
  builtin     = "gateway"
  params      = { service = "gateway", bind = "127.0.0.1:8080", check_path = "/health" }
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
