// Command benchscale is the Go side of scripts/bench-scale.sh. Standard
// library only. Subcommands:
//
//	register  register -services × -instances instances (svc-NNNN, instance
//	          IDs svc-NNNN-J) on -nodes nodes, each with a passing check,
//	          through /v1/catalog/register, -c at once.
//	churn     for -d, -rate events a second on random services: half flip
//	          the check of one instance (critical, then passing again), half
//	          register or deregister one extra instance (with its check).
//	proxy     counting reverse proxy in front of Consul: GET /__count prints
//	          the requests by endpoint since the last POST /__reset.
//	sample    every -every for -d, count the established TCP connections
//	          of -pid to -port and read its VmRSS; print the maxima and VmHWM.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchscale: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: benchscale register|churn|proxy|sample [flags]")
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "register":
		err = register(args)
	case "churn":
		err = churn(args)
	case "proxy":
		err = proxy(args)
	case "sample":
		err = sample(args)
	default:
		err = fmt.Errorf("unknown subcommand %q", cmd)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// instance is one registration: service k, instance j.
type instance struct{ k, j, nodes int }

func (i instance) id() string   { return fmt.Sprintf("svc-%04d-%d", i.k, i.j) }
func (i instance) node() string { return fmt.Sprintf("node-%03d", (i.k*10+i.j)%i.nodes) }

// body is the catalog registration of i with its check in status.
func (i instance) body(status string) []byte {
	return fmt.Appendf(nil, `{"Node":%q,"Address":"10.%d.%d.1","SkipNodeUpdate":true,`+
		`"Service":{"ID":%q,"Service":"svc-%04d","Address":"10.%d.%d.%d","Port":%d,"Tags":["v1","g%d"],"Meta":{"weight":"%d"}},`+
		`"Check":{"Node":%q,"CheckID":"service:%s","Name":"alive","Status":%q,"ServiceID":%q}}`,
		i.node(), (i.k*10+i.j)%i.nodes/250, (i.k*10+i.j)%i.nodes%250,
		i.id(), i.k, i.k/250, i.k%250, i.j+10, 8000+i.j, i.k%3, 1+i.j%3,
		i.node(), i.id(), status, i.id())
}

func put(client *http.Client, consul, path string, body []byte) error {
	req, err := http.NewRequest(http.MethodPut, "http://"+consul+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return fmt.Errorf("PUT %s: %s: %s", path, resp.Status, strings.TrimSpace(b.String()))
	}
	return nil
}

func register(args []string) error {
	fs := flag.NewFlagSet("register", flag.ExitOnError)
	consul := fs.String("consul", "127.0.0.1:8500", "Consul HTTP address")
	services := fs.Int("services", 1000, "services")
	instances := fs.Int("instances", 10, "instances per service")
	nodes := fs.Int("nodes", 100, "nodes")
	conc := fs.Int("c", 16, "registrations at once")
	fs.Parse(args)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc}}
	work := make(chan instance)
	errs := make(chan error, *conc)
	var wg sync.WaitGroup
	for range *conc {
		wg.Go(func() {
			for i := range work {
				if err := put(client, *consul, "/v1/catalog/register", i.body("passing")); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	start := time.Now()
	var err error
feed:
	for k := range *services {
		for j := range *instances {
			select {
			case work <- instance{k, j, *nodes}:
			case err = <-errs:
				break feed
			}
		}
	}
	close(work)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	if err != nil {
		return err
	}
	fmt.Printf("registered %d instances of %d services on %d nodes in %.1fs\n",
		*services**instances, *services, *nodes, time.Since(start).Seconds())
	return nil
}

func churn(args []string) error {
	fs := flag.NewFlagSet("churn", flag.ExitOnError)
	consul := fs.String("consul", "127.0.0.1:8500", "Consul HTTP address")
	services := fs.Int("services", 1000, "services")
	instances := fs.Int("instances", 10, "instances per service")
	nodes := fs.Int("nodes", 100, "nodes")
	rate := fs.Float64("rate", 1, "events a second")
	d := fs.Duration("d", time.Minute, "how long")
	seed := fs.Uint64("seed", 1, "random seed")
	fs.Parse(args)
	client := &http.Client{}
	rng := rand.New(rand.NewPCG(*seed, 7))
	extra := map[int]bool{} // services whose extra instance is registered
	failing := map[instance]bool{}
	tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
	defer tick.Stop()
	end := time.Now().Add(*d)
	events := 0
	for time.Now().Before(end) {
		<-tick.C
		k := rng.IntN(*services)
		var err error
		if rng.IntN(2) == 0 {
			i := instance{k, rng.IntN(*instances), *nodes}
			status := "critical"
			if failing[i] {
				status = "passing"
			}
			failing[i] = !failing[i]
			err = put(client, *consul, "/v1/catalog/register", i.body(status))
		} else {
			i := instance{k, *instances, *nodes}
			if extra[k] {
				err = put(client, *consul, "/v1/catalog/deregister",
					fmt.Appendf(nil, `{"Node":%q,"ServiceID":%q}`, i.node(), i.id()))
			} else {
				err = put(client, *consul, "/v1/catalog/register", i.body("passing"))
			}
			extra[k] = !extra[k]
		}
		if err != nil {
			return err
		}
		events++
	}
	fmt.Printf("churn: %d events in %s (%.1f/s)\n", events, *d, float64(events)/d.Seconds())
	return nil
}

// endpoint names a request path without the service or key it names.
func endpoint(path string) string {
	for _, p := range []string{"/v1/health/service/", "/v1/catalog/service/", "/v1/kv/", "/v1/catalog/node/"} {
		if strings.HasPrefix(path, p) {
			return p + "*"
		}
	}
	return path
}

func proxy(args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:28501", "listen address")
	target := fs.String("target", "127.0.0.1:8500", "Consul HTTP address")
	fs.Parse(args)
	tu, err := url.Parse("http://" + *target)
	if err != nil {
		return err
	}
	rp := httputil.NewSingleHostReverseProxy(tu)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 4096, 4096
	rp.Transport = tr
	rp.FlushInterval = -1
	var mu sync.Mutex
	counts := map[string]int{}
	since := time.Now()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/__count":
			mu.Lock()
			defer mu.Unlock()
			keys := make([]string, 0, len(counts))
			total := 0
			for k, n := range counts {
				keys = append(keys, k)
				total += n
			}
			sort.Strings(keys)
			fmt.Fprintf(w, "total %d seconds %.1f\n", total, time.Since(since).Seconds())
			for _, k := range keys {
				fmt.Fprintf(w, "%s %d\n", k, counts[k])
			}
			return
		case "/__reset":
			mu.Lock()
			counts, since = map[string]int{}, time.Now()
			mu.Unlock()
			return
		}
		mu.Lock()
		counts[endpoint(r.URL.Path)]++
		mu.Unlock()
		rp.ServeHTTP(w, r)
	})
	return http.ListenAndServe(*listen, h)
}
