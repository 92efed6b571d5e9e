package haproxy

import (
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Version
		err  bool
	}{
		{in: "3.4.0-64a335366", want: Version{3, 4, 0}},
		{in: "2.6.12-1+deb12u4", want: Version{2, 6, 12}},
		{in: "3.0.11-9e587df", want: Version{3, 0, 11}},
		{in: "3.4-dev12-abc", want: Version{3, 4, 0}},
		{in: "3.4", want: Version{3, 4, 0}},
		{in: "3", err: true},
		{in: "-1.+2", err: true},
		{in: "", err: true},
		{in: "v3.4.0", err: true},
	} {
		got, err := ParseVersion(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestParseBinaryVersion(t *testing.T) {
	out := "HAProxy version 3.4.0-64a335366 2026/06/03 - https://haproxy.org/\nStatus: long-term supported branch\n"
	v, err := parseBinaryVersion(out)
	if err != nil || v.String() != "3.4.0" {
		t.Errorf("got %v, %v; want 3.4.0", v, err)
	}
	if v, err := parseBinaryVersion("HA-Proxy version 1.8.19 2019/02/11\n"); err != nil || v != (Version{1, 8, 19}) {
		t.Errorf("old spelling: got %v, %v", v, err)
	}
	if _, err := parseBinaryVersion("usage: haproxy\n"); err == nil {
		t.Error("no version line: want an error")
	}
}

func TestFeatureTable(t *testing.T) {
	v26, v30, v34 := Version{2, 6, 12}, Version{3, 0, 11}, Version{3, 4, 0}
	for _, c := range []struct {
		v    Version
		f    Feature
		want bool
	}{
		{v26, FeatureGUID, false}, {v30, FeatureGUID, true}, {v34, FeatureGUID, true},
		{v30, FeatureShmStats, false}, {v34, FeatureShmStats, true}, {Version{4, 0, 0}, FeatureShmStats, true},
		{v26, FeatureAddrPurgesIdle, false}, {v30, FeatureAddrPurgesIdle, true},
		{v30, FeatureRuntimeBackends, false}, {v34, FeatureRuntimeBackends, true},
		{v30, FeatureUniqueProxyNames, false}, {Version{3, 3, 0}, FeatureUniqueProxyNames, true}, {v34, FeatureUniqueProxyNames, true},
		{Version{}, FeatureGUID, false}, {v34, Feature("no-such"), false},
	} {
		if got := c.v.Has(c.f); got != c.want {
			t.Errorf("%v.Has(%s) = %v, want %v", c.v, c.f, got, c.want)
		}
	}
	for _, f := range Features() {
		if _, ok := featureSince()[f]; !ok {
			t.Errorf("feature %s listed but not in the table", f)
		}
	}
	if len(Features()) != len(featureSince()) {
		t.Error("Features() and the table differ in length")
	}
}
