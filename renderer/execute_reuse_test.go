package renderer

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestExecuteReusesNoState: one parsed template executed many times, at
// once from several goroutines, each with its own data: every output is
// that of its own data, Used and Missing are its own, and scratch starts
// empty each time (executions reuse bound clones of the template).
func TestExecuteReusesNoState(t *testing.T) {
	tmpl, err := Parse("reuse", `{{ if scratch.Key "seen" }}STALE{{ end }}{{ scratch.Set "seen" 1 }}`+
		`{{ range services }}{{ .Name }} {{ range service .Name }}{{ .Port }} {{ end }}{{ end }}`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := []mapRecaller{catalogData(t, 1, 1), catalogData(t, 2, 3), catalogData(t, 3, 2)}
	want := make([]string, len(data))
	for i, d := range data {
		res, err := tmpl.Execute(d)
		if err != nil || len(res.Missing) != 0 {
			t.Fatalf("data %d: %v, missing %v", i, err, res.Missing)
		}
		want[i] = string(res.Output)
	}
	if want[0] == want[1] || want[1] == want[2] {
		t.Fatalf("the data sets render alike: %q", want)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for k := range 50 {
				i := (g + k) % len(data)
				res, err := tmpl.Execute(data[i])
				switch {
				case err != nil:
					errs <- err
				case string(res.Output) != want[i] || strings.Contains(string(res.Output), "STALE"):
					errs <- fmt.Errorf("data %d rendered %q, want %q", i, res.Output, want[i])
				case len(res.Missing) != 0 || len(res.Used) == 0:
					errs <- fmt.Errorf("data %d: used %d, missing %d", i, len(res.Used), len(res.Missing))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A template with no data: everything missing, nothing left from before.
	res, err := tmpl.Execute(mapRecaller{})
	if err != nil || len(res.Missing) == 0 {
		t.Fatalf("empty data: %v, missing %v", err, res.Missing)
	}
}
