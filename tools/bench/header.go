package main

import (
	"fmt"
	"strings"
)

// defaultsBody is the body of every defaults section of the bench's
// HAProxy configs: the built-in templates' settings.
const defaultsBody = `    mode http
    option idle-close-on-response
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 10s
    retries 3
    option redispatch 1
    retry-on all-retryable-errors
    load-server-state-from-file global
`

// globalAndDefaults is the global section and the unnamed defaults of
// every HAProxy config the bench runs.
func globalAndDefaults(e *env) string {
	return fmt.Sprintf(`global
    log stderr format short local0 notice
    stats socket %s mode 600 level admin expose-fd listeners
    server-state-file %s
    hard-stop-after 30s
    httpclient.ssl.verify none

defaults
`, e.path("admin.sock"), e.path("server-state")) + defaultsBody
}

// header is the HAProxy configuration every HAProxy stack runs, up to its
// server lines: the same text for harender, consul-template and the Serf
// event handler, so that only the way servers change differs. It is the
// built-in "gateway" template's, with its health-check timing. The
// frontend is "gateway.fe": 3.3 and later refuse a frontend and a backend
// of one name.
func header(e *env, kvLine string) string {
	var b strings.Builder
	b.WriteString("# make compare: the same header for every HAProxy stack.\n" + globalAndDefaults(e))
	fmt.Fprintf(&b, `
frontend gateway.fe
    bind 127.0.0.1:%d
    default_backend gateway
`, e.ports.front())
	if kvLine != "" {
		b.WriteString("    " + kvLine + "\n")
	}
	b.WriteString(`
backend gateway
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    default-server inter 1s fastinter 250ms downinter 1s fall 2 rise 2 pool-purge-delay 500ms
`)
	return b.String()
}

// consulTemplate is the template harender and consul-template both render:
// the header, then a server per passing instance of "gateway", with its
// Consul weight (1 unless set: HAProxy's default too). With kv, the
// frontend echoes the KV key bench/rev, a change that needs a reload.
func consulTemplate(e *env, kv bool) string {
	line := ""
	if kv {
		line = `http-response set-header X-Bench-Rev "{{ keyOrDefault "bench/rev" "0" }}"`
	}
	return header(e, line) + `{{- range service "gateway" }}
    server {{ .ID }} {{ .Address }}:{{ .Port }} check weight {{ .Weights.Passing }}
{{- end }}
`
}

// serfTemplate is harender's template on the Serf source: the same header,
// a server per live member tagged role=gateway, on the port of its tag.
func serfTemplate(e *env) string {
	return header(e, "") + `{{- range serfMembers "role=gateway" }}
    server {{ .Name }} {{ .Addr }}:{{ index .Tags "port" }} check
{{- end }}
`
}
