package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/harender/harender/internal/testenv"
)

// faultRow is one row of the fault table (issue 7): the fault, what
// harender did, how many requests failed of those sent through HAProxy,
// and whether a config was lost (a destination torn, emptied or left
// unloadable). make faults prints the rows of a run as a table.
type faultRow struct {
	Fault      string
	Did        string
	Load       testenv.WrkResult
	ConfigLost bool
}

// report logs the row, for HAProxy binary bin, in the form
// scripts/faults.sh collects.
func (r faultRow) report(t *testing.T, bin string) {
	t.Helper()
	lost := "no"
	if r.ConfigLost {
		lost = "yes"
	}
	t.Logf("FAULT | %s | %s | %d of %d | %s | %s", r.Fault, r.Did, r.Load.Failed(), r.Load.Requests, lost, testenv.HAProxyReleaseOf(t, bin).Version)
}

// forEachFaultHAProxy runs a fault-table test. make faults
// (HARENDER_FAULTS=1) runs it against every HAProxy version; make test
// against the newest only, to keep CI short; -short skips it.
func forEachFaultHAProxy(t *testing.T, f func(t *testing.T, bin string)) {
	if testing.Short() {
		t.Skip("a fault-table test under load; make faults runs it")
	}
	if os.Getenv("HARENDER_FAULTS") != "" {
		testenv.ForEachHAProxy(t, f)
		return
	}
	bins := testenv.HAProxyBins()
	bin := bins[len(bins)-1]
	t.Run(filepath.Base(bin), func(t *testing.T) { f(t, testenv.Require(t, "haproxy", bin)) })
}
