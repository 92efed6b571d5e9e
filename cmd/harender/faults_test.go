package main

import (
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
