package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

func svcReg(i, weight int) *api.AgentServiceRegistration {
	name := fmt.Sprintf("svc-%04d", i)
	return &api.AgentServiceRegistration{
		ID: name + "-1", Name: name, Address: "127.0.0.1", Port: 40000 + i,
		Tags: []string{"bench"},
		Meta: map[string]string{"weight": strconv.Itoa(weight)},
	}
}

func cmdRegister(args []string) error {
	fs := flag.NewFlagSet("register", flag.ExitOnError)
	addr := fs.String("consul", "127.0.0.1:28500", "Consul HTTP address")
	n := fs.Int("n", 1000, "services")
	conc := fs.Int("c", 32, "concurrent requests")
	fs.Parse(args)
	c, err := consulClient(*addr)
	if err != nil {
		return err
	}
	t0 := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := c.Agent().ServiceRegister(svcReg(i, 10)); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < *n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	// Wait until the catalog shows them all.
	for {
		svcs, _, err := c.Catalog().Services(nil)
		if err == nil && len(svcs) >= *n {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Printf("registered %d services in %s\n", *n, time.Since(t0).Round(time.Millisecond))
	return nil
}

func cmdChurn(args []string) error {
	fs := flag.NewFlagSet("churn", flag.ExitOnError)
	addr := fs.String("consul", "127.0.0.1:28500", "Consul HTTP address")
	n := fs.Int("n", 1000, "services svc-0000..")
	d := fs.Duration("d", 60*time.Second, "duration")
	every := fs.Duration("every", 100*time.Millisecond, "one change per")
	fs.Parse(args)
	c, err := consulClient(*addr)
	if err != nil {
		return err
	}
	down := map[int]bool{}
	var weights, toggles, errs int
	tick := time.NewTicker(*every)
	defer tick.Stop()
	end := time.Now().Add(*d)
	for k := 0; time.Now().Before(end); k++ {
		<-tick.C
		i := rand.IntN(*n)
		if k%2 == 0 && !down[i] {
			// meta weight change: only a server weight changes
			err = c.Agent().ServiceRegister(svcReg(i, 1+rand.IntN(100)))
			weights++
		} else {
			if down[i] {
				err = c.Agent().ServiceRegister(svcReg(i, 10))
				delete(down, i)
			} else {
				err = c.Agent().ServiceDeregister(fmt.Sprintf("svc-%04d-1", i))
				down[i] = true
			}
			toggles++
		}
		if err != nil {
			errs++
		}
	}
	for i := range down {
		c.Agent().ServiceRegister(svcReg(i, 10))
	}
	fmt.Printf("churn: %d weight changes, %d registration toggles, %d errors in %s\n", weights, toggles, errs, *d)
	return nil
}

func vmRSS(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

func cmdRSS(args []string) error {
	fs := flag.NewFlagSet("rss", flag.ExitOnError)
	pid := fs.Int("pid", 0, "process")
	d := fs.Duration("d", 30*time.Second, "duration")
	every := fs.Duration("every", 500*time.Millisecond, "sample interval")
	label := fs.String("label", "rss", "label")
	fs.Parse(args)
	var mx, last, n int
	end := time.Now().Add(*d)
	for time.Now().Before(end) {
		kb, err := vmRSS(*pid)
		if err != nil {
			return err
		}
		n++
		last = kb
		mx = max(mx, kb)
		time.Sleep(*every)
	}
	fmt.Printf("%s: samples=%d max=%.1f MiB last=%.1f MiB\n", *label, n, float64(mx)/1024, float64(last)/1024)
	return nil
}
