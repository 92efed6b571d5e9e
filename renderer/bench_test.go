package renderer

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/harender/harender/templates"
	"github.com/harender/harender/watch"
)

// benchSizes are the instance counts of the render benchmarks: 100, 1,000
// and 10,000 instances.
var benchSizes = []int{100, 1000, 10000}

// instancesPerService is how many instances each service of the
// consul-template-style benchmark has.
const instancesPerService = 10

// BenchmarkRenderGateway is one full Execute of the built-in gateway
// template. That template fronts a single service, so all N instances
// belong to that one service: it measures the per-server cost of the
// built-in template (one regexReplaceAll per server line).
func BenchmarkRenderGateway(b *testing.B) {
	text, err := templates.Get("gateway")
	if err != nil {
		b.Fatal(err)
	}
	tmpl, err := Parse("builtin:gateway", text, Options{Params: map[string]string{"service": "gateway"}})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			benchExecute(b, tmpl, gatewayInstances(b, "gateway", n), n)
		})
	}
}

// BenchmarkRenderConsulTemplateStyle is one full Execute of a multi-service
// template as consul-template users write it (testdata/bench-ct.tmpl:
// range services, service per name, byTag), over N instances spread as
// N/10 services of 10 instances each.
func BenchmarkRenderConsulTemplateStyle(b *testing.B) {
	path := filepath.Join("testdata", "bench-ct.tmpl")
	text, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	tmpl, err := Parse(path, string(text), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			benchExecute(b, tmpl, catalogData(b, n/instancesPerService, instancesPerService), n)
		})
	}
}

// benchExecute checks one render of tmpl against r (no missing data, a
// server line per instance at least), then times Execute.
func benchExecute(b *testing.B, tmpl *Template, r Recaller, instances int) {
	res, err := tmpl.Execute(r)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Missing) != 0 {
		b.Fatalf("missing %d dependencies, e.g. %v", len(res.Missing), res.Missing[0])
	}
	// Every instance yields at least one "    server NAME ADDR:PORT check"
	// line of more than 30 bytes.
	if least := instances * 30; len(res.Output) < least {
		b.Fatalf("output is %d bytes, want at least %d for %d instances:\n%s", len(res.Output), least, instances, res.Output)
	}
	out := len(res.Output)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() { // b.Loop starts the timer afresh: the setup is not timed

		res, err := tmpl.Execute(r)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Missing) != 0 {
			b.Fatalf("missing %v", res.Missing)
		}
	}
	b.ReportMetric(float64(out), "out-bytes")
	// CPU time (all threads, GC included) per render: on a shared machine
	// the wall time per op says more about the neighbours.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// catalogData is a whole catalog as the watcher would hold it: services
// svc-0000... (tagged http, canary and primary) for `services`, and for
// each its perService healthy instances for `service NAME`, every other
// one a canary.
func catalogData(tb testing.TB, services, perService int) mapRecaller {
	all, err := watch.NewCatalogServicesQuery("")
	if err != nil {
		tb.Fatal(err)
	}
	m := mapRecaller{}
	snippets := make([]*watch.CatalogSnippet, 0, services)
	for s := 0; s < services; s++ {
		name := fmt.Sprintf("svc-%04d", s)
		snippets = append(snippets, &watch.CatalogSnippet{Name: name, Tags: watch.ServiceTags{"canary", "http", "primary"}})
		d, err := watch.NewHealthServiceQuery(name)
		if err != nil {
			tb.Fatal(err)
		}
		list := make([]*watch.HealthService, 0, perService)
		for i := 0; i < perService; i++ {
			g := s*perService + i
			role := "primary"
			if i%2 == 1 {
				role = "canary"
			}
			list = append(list, &watch.HealthService{
				Node: fmt.Sprintf("node-%d", g%64), Name: name, ID: fmt.Sprintf("%s-%d", name, i),
				Address: fmt.Sprintf("10.%d.%d.%d", g/62500, g/250%250, g%250+1), Port: 20000 + i,
				Tags: watch.ServiceTags{"http", role}, Status: "passing",
			})
		}
		m[d.String()] = list
	}
	m[all.String()] = snippets
	return m
}
