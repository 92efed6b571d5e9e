package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harender/harender/internal/testenv"
	"github.com/hashicorp/consul/api"
)

// TestFaultKill9 is fault-table row 6: `harender render` is killed with
// SIGKILL at random moments, 200 times per HAProxy version, while the
// catalog changes under it. After every kill the destination, when it
// exists, must be byte-identical to one of the configs a complete render
// gives for some catalog state (each of which passes haproxy -c), and
// after a final normal start no staged or temp file may be left beside
// it. No load runs: this row is about the file, not HAProxy. The kills
// come between 0 and 1.1 times a complete render's time after the start,
// so that they land in every phase, the rename included.
func TestFaultKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("200 kills per HAProxy version")
	}
	const kills = 200
	harenderBin := buildHarender(t) // secrets_test.go
	forEachFaultHAProxy(t, func(t *testing.T, bin string) {
		consul := testenv.StartConsul(t)
		s := newGatewaySetup(t, consul.Addr, bin, gatewayOptions{})
		pool := []string{"k-1", "k-2", "k-3"}
		register := func(id string, on bool) error {
			if !on {
				err := consul.Client.Agent().ServiceDeregister(id)
				if err != nil && strings.Contains(err.Error(), "Unknown service ID") {
					return nil // not registered: already as wanted
				}
				return err
			}
			port := 10000 + slices.Index(pool, id)
			return consul.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{
				ID: id, Name: "gateway", Address: "127.0.0.1", Port: port,
			})
		}
		render := func(ctx context.Context) error {
			cmd := exec.CommandContext(ctx, harenderBin, "render", "--config", s.config, "--timeout", "20s")
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("%w\n%s", err, out)
			}
			return nil
		}

		// The configs a complete render gives, one per catalog state.
		valid := map[string]int{} // content → state (bit i: pool[i] registered)
		var took []time.Duration  // of each complete render
		for state := 0; state < 1<<len(pool); state++ {
			for i, id := range pool {
				if err := register(id, state&(1<<i) != 0); err != nil {
					t.Fatal(err)
				}
			}
			waitCatalog(t, consul, pool, state)
			began := time.Now()
			if err := render(t.Context()); err != nil {
				t.Fatalf("render of state %03b: %v", state, err)
			}
			took = append(took, time.Since(began))
			cfg, err := os.ReadFile(s.haproxyCfg)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "-c", "-f", s.haproxyCfg).CombinedOutput(); err != nil {
				t.Fatalf("state %03b renders a config haproxy -c rejects: %v\n%s", state, err, out)
			}
			valid[string(cfg)] = state
		}
		if len(valid) != 1<<len(pool) {
			t.Fatalf("%d distinct configs for %d catalog states", len(valid), 1<<len(pool))
		}
		// Kill anywhere from the start to a little past the median
		// complete render, so that kills land in every phase: start,
		// Consul, render, stage, haproxy -c, rename.
		slices.Sort(took)
		window := took[len(took)/2] * 11 / 10

		// The catalog changes all along: one instance in or out every
		// 20 to 60ms.
		ctx, stop := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		changes := 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			on := map[string]bool{"k-1": true, "k-2": true, "k-3": true}
			for ctx.Err() == nil {
				id := pool[rand.IntN(len(pool))]
				on[id] = !on[id]
				if register(id, on[id]) == nil {
					changes++
				}
				time.Sleep(time.Duration(20+rand.IntN(40)) * time.Millisecond)
			}
		}()

		start := time.Now()
		var (
			completed, candidates, missing int
			seen                           = map[int]int{} // state → kills that left it
			bad                            []string
		)
		for i := 0; i < kills; i++ {
			cmd := exec.Command(harenderBin, "render", "--config", s.config, "--timeout", "20s")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(rand.N(window))
			_ = cmd.Process.Kill() // SIGKILL
			var exit *exec.ExitError
			if err := cmd.Wait(); err == nil {
				completed++
			} else if !errors.As(err, &exit) {
				t.Fatal(err)
			}
			if _, err := os.Stat(s.haproxyCfg + ".candidate"); err == nil {
				candidates++
			}
			cfg, err := os.ReadFile(s.haproxyCfg)
			switch {
			case errors.Is(err, os.ErrNotExist):
				missing++
			case err != nil:
				t.Fatal(err)
			default:
				if state, ok := valid[string(cfg)]; ok {
					seen[state]++
					continue
				}
				out, _ := exec.Command(bin, "-c", "-f", s.haproxyCfg).CombinedOutput()
				bad = append(bad, fmt.Sprintf("kill %d: %d bytes, not a rendered version; haproxy -c says:\n%s", i+1, len(cfg), out))
				_ = os.WriteFile(filepath.Join(t.TempDir(), fmt.Sprintf("bad-%d.cfg", i+1)), cfg, 0o644)
			}
		}
		elapsed := time.Since(start)
		stop()
		wg.Wait()

		// The next start, a normal render, leaves nothing beside the
		// destination; nor does one that finds the destination already
		// up to date, after a kill left a candidate.
		if err := render(t.Context()); err != nil {
			t.Fatalf("render after the kills: %v", err)
		}
		// stats.shm is HAProxy 3.4's shm-stats-file (helpers_test.go), not harender's.
		left := leftovers(t, s.dir, "harender.hcl", "haproxy.cfg", "stats.shm")
		cfg, _ := os.ReadFile(s.haproxyCfg)
		writeFile(t, s.haproxyCfg+".candidate", string(cfg[:len(cfg)/2])) // as a kill mid-stage leaves it
		if err := render(t.Context()); err != nil {
			t.Fatalf("render over a left candidate: %v", err)
		}
		for _, f := range leftovers(t, s.dir, "harender.hcl", "haproxy.cfg", "stats.shm") {
			left = append(left, f+" (destination unchanged)")
		}

		t.Logf("%d kills in %s (0-%s after start; a complete render takes %s to %s), %d renders finished first, %d catalog changes; a candidate was left after %d kills; destination missing %d times; states seen %v",
			kills, elapsed.Round(time.Millisecond), window.Round(time.Millisecond), took[0].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond),
			completed, changes, candidates, missing, seen)
		lost := len(bad) > 0 || missing > 0
		did := fmt.Sprintf("%d SIGKILLs (%d mid-render): destination always one complete rendered version, %d of %d states seen; no load run", kills, kills-completed, len(seen), len(valid))
		if lost {
			did = fmt.Sprintf("%d SIGKILLs: destination torn or missing %d times", kills, len(bad)+missing)
		}
		if len(left) > 0 {
			did += fmt.Sprintf("; left after the next start: %v", left)
		} else {
			did += "; nothing left beside it after the next start"
		}
		faultRow{Fault: "harender render kill -9 at random moments, catalog changing", Did: did, ConfigLost: lost}.report(t, bin)

		for _, b := range bad {
			t.Error(b)
		}
		if missing > 0 {
			t.Errorf("the destination was missing after %d kills", missing)
		}
		if len(left) > 0 {
			t.Errorf("files left beside the destination after the next start: %v", left)
		}
		// The window comes from renders timed before the loop; the load
		// of other tests may change: a quarter cut short is enough.
		if completed == 0 || kills-completed < kills/4 {
			t.Errorf("%d of %d renders finished before their kill: the delays do not cover a render's phases", completed, kills)
		}
	})
}

// waitCatalog waits until the passing instances of gateway are exactly the
// members of pool whose bit is set in state.
func waitCatalog(t *testing.T, c *testenv.Consul, pool []string, state int) {
	t.Helper()
	var want []string
	for i, id := range pool {
		if state&(1<<i) != 0 {
			want = append(want, id)
		}
	}
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		entries, _, err := c.Client.Health().Service("gateway", "", true, nil)
		if err != nil {
			continue
		}
		got = got[:0]
		for _, e := range entries {
			got = append(got, e.Service.ID)
		}
		sort.Strings(got)
		if slices.Equal(got, want) {
			return
		}
	}
	t.Fatalf("catalog has %v, want %v", got, want)
}

// leftovers lists the files in dir other than keep.
func leftovers(t *testing.T, dir string, keep ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !slices.Contains(keep, e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}
