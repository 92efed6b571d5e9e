// Command benchtool is the Go side of scripts/bench/sidecar.sh. Subcommands:
//
//	reload   PUT a KV key N times; after each PUT returns, poll HAProxy until
//	         the response header X-Rev carries the new value (a reload is
//	         needed for that). Prints p50/p90/p99/max, and the same from the
//	         PUT to harender's JSON log line "reloaded" when -log is given.
//	runtime  re-register one instance with the same ID on another port
//	         (another running gateway); poll until the body names the
//	         gateway on the new port. Same report; log line "applied through
//	         the runtime API".
//	join     an instance with an HTTP check of its own joins (registered)
//	         and leaves (deregistered) N times; a join is served at its
//	         first answer, a leave at the first of six answers in a row
//	         from the other instance.
//	register register N services svc-NNNN with one instance each.
//	churn    every -every, pick a random svc-NNNN and either change its
//	         meta weight (runtime-API change) or toggle its registration
//	         (reload); restores every service at the end.
//	rss      sample VmRSS of -pid every -every for -d; print max and last.
//	proxy    counting reverse proxy in front of Consul; GET /__bench/counts
//	         prints counts by path, POST /__bench/reset zeroes them.
//
// Everything is stdlib plus github.com/hashicorp/consul/api.
package main

import (
	"fmt"
	"log"
	"os"

	"github.com/hashicorp/consul/api"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchtool: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: benchtool reload|runtime|join|register|churn|rss|proxy [flags]")
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "reload":
		err = cmdReload(args)
	case "runtime":
		err = cmdRuntime(args)
	case "join":
		err = cmdJoin(args)
	case "register":
		err = cmdRegister(args)
	case "churn":
		err = cmdChurn(args)
	case "rss":
		err = cmdRSS(args)
	case "proxy":
		err = cmdProxy(args)
	default:
		err = fmt.Errorf("unknown subcommand %q", cmd)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func consulClient(addr string) (*api.Client, error) {
	cfg := api.DefaultConfig()
	cfg.Address = addr
	return api.NewClient(cfg)
}
