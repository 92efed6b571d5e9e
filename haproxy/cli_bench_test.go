package haproxy

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/harender/harender/internal/testbin"
)

// BenchmarkCLI times one exchange with a running HAProxy, a new connection
// each, as harender makes them: the master's show proc, a runtime command
// through the master CLI (@1) and through the stats socket, and three
// commands in one exchange. It is the measure of what a kept-open
// connection could save:
// go test -run - -bench CLI ./haproxy/
func BenchmarkCLI(b *testing.B) {
	for _, path := range testbin.HAProxyBins() {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		bin := haproxyBin{Path: path, HAProxyRelease: testbin.HAProxyReleaseOf(b, path)}
		b.Run(bin.Version, func(b *testing.B) {
			dir := b.TempDir()
			cfg := filepath.Join(dir, "haproxy.cfg")
			text := integrationConfig(dir, testbin.FreePort(b), testbin.FreePort(b), testbin.FreePort(b), "")
			if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
				b.Fatal(err)
			}
			_, m := startHAProxy(b, bin, dir, cfg)
			stats := &Runtime{Path: filepath.Join(dir, "admin.sock")}
			waitRuntime(b, stats)
			master := &Runtime{Path: m.Path, Prefix: "@1 "}
			ctx := context.Background()
			for _, c := range []struct {
				name string
				run  func() error
			}{
				{"master-show-proc", func() error { _, err := m.ShowProc(ctx); return err }},
				{"master-at1-set-weight", func() error { return master.SetServerWeight(ctx, "be", "s1", 1) }},
				{"stats-socket-set-weight", func() error { return stats.SetServerWeight(ctx, "be", "s1", 1) }},
				{"master-at1-show-servers-state", func() error { _, err := master.ServersState(ctx); return err }},
				{"master-three-commands-one-exchange", func() error {
					_, err := m.Command(ctx, "@1 set server be/s1 weight 1; @1 set server be/s2 weight 1; @1 set server be/s1 weight 1")
					return err
				}},
			} {
				b.Run(c.name, func(b *testing.B) {
					for range b.N {
						if err := c.run(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
