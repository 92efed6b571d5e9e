package main

import (
	"strings"
	"testing"
	"time"
)

func TestSpreadCell(t *testing.T) {
	var ds []time.Duration
	for i := 20; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*100*msec)
	}
	if got, want := spreadCell(ds), "1000 / 1800 / 2000"; got != want {
		t.Errorf("spreadCell(100..2000 ms) = %q, want %q", got, want)
	}
	if ds[0] != 2000*msec {
		t.Errorf("spreadCell sorted its argument: %v", ds[:3])
	}
	if got := spreadCell([]time.Duration{3 * msec}); got != "3.0 / 3.0 / 3.0" {
		t.Errorf("one value: %q", got)
	}
	if got := spreadCell(nil); got != "—" {
		t.Errorf("no values: %q, want —", got)
	}
}

func TestServicesTable(t *testing.T) {
	got := servicesTable([]serviceResult{
		{Stack: "harender@3.4", Reloads: 0, Added: []time.Duration{300 * msec, 400 * msec}, Gone: []time.Duration{500 * msec},
			CPU: 1500 * msec, ChildCPU: 1200 * msec, Throughput: 12345.4, Load: "3.10"},
		{Stack: "consul-template@3.0", Reloads: 40, Failed: 2, FailedDetail: " (read 2)", CPU: -1, Backends: -1, Throughput: 9000, Load: "4.00"},
		{Stack: "harender@3.0", Err: "consul leader: not after 30s"},
	})
	for _, want := range []string{
		"| harender@3.4 | 0 | 0 | 300 / 400 / 400 | 500 / 500 / 500 | 0 | 1.50 (1.20) | 12345 | 3.10 |",
		"| consul-template@3.0 | 40 | 2 (read 2) | — | — | — | — | 9000 | 4.00 |",
		"| harender@3.0 | run failed: consul leader: not after 30s |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}
