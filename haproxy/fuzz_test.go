package haproxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addTestdata seeds f with every testdata file whose name has prefix.
func addTestdata(f *testing.F, prefix string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", prefix+"*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
}

func FuzzParseShowProc(f *testing.F) {
	addTestdata(f, "showproc-")
	f.Add("1 master 0\n# workers\n2 worker 0\n# old workers\n3 worker 1\n# programs\n4 p 0 0d -\n")
	f.Add("1 master 0 [failed: 9]")
	f.Add("1 master 0 [failed:")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseShowProc(s)
		if err != nil {
			return
		}
		if p.Master.Type != "master" || p.Master.PID <= 0 || p.Master.Reloads < 0 || p.Master.Failed < 0 {
			t.Fatalf("accepted bad master row: %+v", p.Master)
		}
		for _, w := range append(p.Workers, p.OldWorkers...) {
			if w.PID <= 0 || w.Reloads < 0 {
				t.Fatalf("accepted bad worker row: %+v", w)
			}
		}
	})
}

func FuzzParseReloadReply(f *testing.F) {
	addTestdata(f, "reload-")
	f.Add("Success=1\n--\n")
	f.Add("Success=0")
	f.Add("--\n")
	f.Fuzz(func(t *testing.T, s string) {
		ok, supported, msgs, err := ParseReloadReply(s)
		if err != nil && (ok || supported) {
			t.Fatalf("error with ok=%v supported=%v", ok, supported)
		}
		if !supported && (ok || msgs != "") {
			t.Fatalf("unsupported reply with ok=%v msgs=%q", ok, msgs)
		}
		if err == nil && supported != strings.HasPrefix(strings.TrimSpace(s), "Success=") {
			t.Fatalf("supported=%v for %q", supported, s)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"gateway.cfg"} {
		b, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(planBase)
	f.Add(validConfig)
	f.Add("backend b\n server s [::1]:80 weight\n server t 'a b' \"c\\\"\" \\\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConfig([]byte(s))
		if err != nil {
			return
		}
		if ch := Plan(c, c); ch.Reload || len(ch.Servers) != 0 {
			t.Fatalf("Plan(c, c) = %+v", ch)
		}
		for _, sec := range c.Sections {
			for _, srv := range sec.Servers {
				if srv.Name == "" || srv.Address == "" || srv.Weight < -1 || srv.Port < 0 || srv.Port > 65535 {
					t.Fatalf("bad server %+v", srv)
				}
			}
		}
	})
}
