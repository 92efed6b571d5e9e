# Fabio-style routes on HAProxy: every passing Consul service whose
# instances carry "urlprefix-" tags gets a backend, and HAProxy on :9999
# routes each request by host and longest path prefix through
# /etc/haproxy/routes.map. Routes and instances change through HAProxy's
# runtime API with no reload; only a new service (a new backend) reloads.
#
# Register a service with routes, for example:
#   curl -X PUT 127.0.0.1:8500/v1/agent/service/register -d '{
#     "ID": "users-1", "Name": "users", "Address": "10.0.0.5", "Port": 8080,
#     "Tags": ["urlprefix-/users", "urlprefix-/api/users strip=/api",
#              "urlprefix-users.example.org/"],
#     "Check": {"HTTP": "http://10.0.0.5:8080/health", "Interval": "1s"}}'
# Then:
#   curl 127.0.0.1:9999/users/42                          # users sees /users/42
#   curl 127.0.0.1:9999/api/users/42                      # users sees /users/42
#   curl -H 'Host: users.example.org' 127.0.0.1:9999/x    # users sees /x
#   harender check --config harender.hcl                  # no Consul needed

consul {
  address = "127.0.0.1:8500"
}

wait {
  min = "50ms"
  max = "500ms"
}

# HAProxy's config. "map" must be the other block's destination, absolute.
template {
  builtin     = "routes"
  params      = { bind = "0.0.0.0:9999", map = "/etc/haproxy/routes.map", check_path = "/health" }
  destination = "/etc/haproxy/haproxy.cfg"
}

# The route map, from the same tags. A tag_prefix, if set, must be the
# same in both blocks.
template {
  builtin     = "routes"
  params      = { output = "map" }
  destination = "/etc/haproxy/routes.map"
}

haproxy {
  config              = "/etc/haproxy/haproxy.cfg"
  master_socket       = "/run/haproxy/master.sock"
  runtime_socket      = "/run/haproxy/admin.sock"
  server_state_file   = "/var/lib/haproxy/server-state"
  reload              = "auto"
  min_reload_interval = "1s"
}
