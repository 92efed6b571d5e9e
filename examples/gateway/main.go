// Command gateway is a stand-in for one API gateway instance: it serves
// HTTP, registers itself in Consul with an HTTP health check, and
// deregisters on SIGINT or SIGTERM. The demo and the end-to-end tests run
// three of them behind HAProxy.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"
)

func main() {
	if err := run(); err != nil {
		log.Fatalf("gateway: %v", err)
	}
}

func run() error {
	name := flag.String("name", "gw-1", "instance `ID` in Consul, and in every reply")
	listen := flag.String("listen", "127.0.0.1:0", "`ADDRESS` to serve on")
	service := flag.String("service", "gateway", "Consul service `NAME`")
	tags := flag.String("tag", "", "a Consul `TAG` for the instance")
	consul := flag.String("consul", "", "Consul `ADDRESS` (default $CONSUL_HTTP_ADDR)")
	flag.Parse()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().(*net.TCPAddr)
	var healthy atomic.Bool
	healthy.Store(true)
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	// POST /fail makes the health check fail, as a sick instance would.
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		healthy.Store(false)
		fmt.Fprintln(w, "failing")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", *name)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	cfg := api.DefaultConfig()
	if *consul != "" {
		cfg.Address = *consul
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return err
	}
	reg := &api.AgentServiceRegistration{
		ID:      *name,
		Name:    *service,
		Address: addr.IP.String(),
		Port:    addr.Port,
		Check: &api.AgentServiceCheck{
			HTTP:     "http://" + net.JoinHostPort(addr.IP.String(), strconv.Itoa(addr.Port)) + "/health",
			Interval: "1s",
			Timeout:  "1s",
			// Passing from the start, as a freshly started instance is.
			Status: api.HealthPassing,
		},
	}
	if *tags != "" {
		reg.Tags = []string{*tags}
	}
	if err := client.Agent().ServiceRegister(reg); err != nil {
		return fmt.Errorf("register in consul: %w", err)
	}
	log.Printf("gateway %s serving on %s, registered as service %q", *name, addr, *service)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	if err := client.Agent().ServiceDeregister(*name); err != nil {
		log.Printf("deregister: %v", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
