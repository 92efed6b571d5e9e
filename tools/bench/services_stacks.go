package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/harender/harender/haproxy"
)

// routesHarender: `harender run` with the built-in template "routes" (a
// config block and a map block), which starts HAProxy itself. On 3.4 it
// adds and deletes backends at runtime; on 2.6 and 3.0 a new or removed
// service reloads.
type routesHarender struct{ bin string }

func (h *routesHarender) prepare(e *env) error {
	hcl := fmt.Sprintf(`consul {
  address = %q
}
listen = %q
template {
  builtin     = "routes"
  params      = { bind = %q, map = %q, check_path = "/health" }
  destination = %q
}
template {
  builtin     = "routes"
  params      = { output = "map" }
  destination = %q
}
haproxy {
  binary            = %q
  config            = %q
  master_socket     = %q
  runtime_socket    = %q
  server_state_file = %q
  pid_file          = %q
  start             = true
}
`, addr(e.ports.consulHTTP()), addr(e.ports.metrics()), addr(e.ports.front()), e.path("routes.map"),
		e.path("haproxy.cfg"), e.path("routes.map"), h.bin, e.path("haproxy.cfg"),
		e.path("master.sock"), e.path("admin.sock"), e.path("server-state"), e.path("haproxy.pid"))
	if e.o.debug {
		hcl = "log_level = \"debug\"\n" + hcl
	}
	return os.WriteFile(e.path("harender.hcl"), []byte(hcl), 0o644)
}

func (h *routesHarender) start(e *env) error {
	_, err := e.ps.start("harender", nil, e.o.harender, "run", "--config", e.path("harender.hcl"))
	return err
}

func (h *routesHarender) reloads(e *env) int { return masterReloads(e) }
func (h *routesHarender) runtime(e *env) int { return -1 }
func (h *routesHarender) controller() string { return "harender" }

// routesTemplate is the consul-template equivalent of harender's "routes"
// template for path routes, written the way consul-template users route by
// tag: a use_backend rule per tag urlprefix-/PATH, a backend per service
// with such a tag, a server per passing instance. HAProxy's settings are
// those the routes template renders: the same global and defaults
// sections, and a named defaults section for the backends with the same
// balance, health check and server timing.
func routesTemplate(e *env) string {
	return "# make bench-services: consul-template's equivalent of the routes template.\n" + globalAndDefaults(e) + fmt.Sprintf(`
frontend routes.fe
    bind %s
{{- range services }}{{ $svc := .Name }}{{ range .Tags }}{{ if regexMatch "^urlprefix-/" . }}
    use_backend {{ $svc }} if { path_beg {{ replaceAll "urlprefix-" "" . }} }
{{- end }}{{ end }}{{ end }}
    default_backend no_route

defaults backends
`+defaultsBody+`    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    default-server inter 1s fastinter 250ms downinter 1s fall 2 rise 2 pool-purge-delay 500ms

backend no_route
    http-request return status 404 content-type text/plain string "no route"
{{- range services }}{{ $svc := .Name }}{{ $routed := false }}{{ range .Tags }}{{ if regexMatch "^urlprefix-/" . }}{{ $routed = true }}{{ end }}{{ end }}{{ if $routed }}

backend {{ $svc }}
{{- range service $svc }}
    server {{ .ID }} {{ .Address }}:{{ .Port }} check
{{- end }}
{{- end }}{{ end }}
`, addr(e.ports.front()))
}

// leftBackends counts the backends of routed services (svc-*) that HAProxy
// still has; -1 when the runtime API did not answer.
func leftBackends(e *env) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	names, err := (&haproxy.Runtime{Path: e.path("admin.sock")}).ShowBackends(ctx)
	if err != nil {
		return -1
	}
	n := 0
	for _, b := range names {
		if strings.HasPrefix(b, "svc-") {
			n++
		}
	}
	return n
}
