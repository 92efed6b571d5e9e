package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// runInstance is the "instance" subcommand: one gateway instance, as
// examples/gateway serves it ("hello from ID"), but without registering
// itself: the harness registers it, so that the moment of every Consul write
// is the harness's to record. POST /fail and /pass flip its health check,
// GET /health answers 200 or 503.
func runInstance(args []string) error {
	fs := flag.NewFlagSet("instance", flag.ContinueOnError)
	id := fs.String("id", "gw-1", "instance `ID`, in every reply")
	listen := fs.String("listen", "127.0.0.1:0", "`ADDRESS` to serve on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	var healthy atomic.Bool
	healthy.Store(true)
	hello := []byte("hello from " + *id + "\n")
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) { healthy.Store(false) })
	mux.HandleFunc("POST /pass", func(w http.ResponseWriter, r *http.Request) { healthy.Store(true) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write(hello) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return srv.Serve(ln)
}
