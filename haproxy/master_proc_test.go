package haproxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseShowProcRecorded(t *testing.T) {
	tests := []struct {
		file                      string
		reloads, failed           int
		workers, old              int
		workerReloads, oldReloads int
		version                   string
	}{
		{"showproc-start-2.6.txt", 0, 0, 1, 0, 0, 0, "2.6.12-1+deb12u4"},
		{"showproc-oldworkers-2.6.txt", 1, 0, 1, 1, 0, 1, "2.6.12-1+deb12u4"},
		{"showproc-failed-2.6.txt", 2, 1, 1, 1, 1, 2, "2.6.12-1+deb12u4"},
		{"showproc-start-3.0.txt", 0, 0, 1, 0, 0, 0, "3.0.11-9e587df"},
		{"showproc-oldworkers-3.0.txt", 1, 0, 1, 1, 0, 1, "3.0.11-9e587df"},
		{"showproc-failed-3.0.txt", 2, 1, 1, 1, 1, 2, "3.0.11-9e587df"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParseShowProc(string(b))
			if err != nil {
				t.Fatalf("ParseShowProc: %v", err)
			}
			m := p.Master
			if m.Type != "master" || m.PID <= 0 || m.Reloads != tt.reloads || m.Failed != tt.failed || !m.HasFailed || m.Version != tt.version {
				t.Errorf("master = %+v", m)
			}
			if len(p.Workers) != tt.workers || len(p.OldWorkers) != tt.old || len(p.Programs) != 0 {
				t.Fatalf("workers %d old %d programs %d", len(p.Workers), len(p.OldWorkers), len(p.Programs))
			}
			if w := p.Workers[0]; w.Reloads != tt.workerReloads || w.Type != "worker" || w.Version != tt.version || w.Uptime == "" {
				t.Errorf("worker = %+v", w)
			}
			if tt.old > 0 && p.OldWorkers[0].Reloads != tt.oldReloads {
				t.Errorf("old worker = %+v", p.OldWorkers[0])
			}
		})
	}
}

func TestParseShowProc(t *testing.T) {
	const header = "#<PID>          <type>          <reloads>       <uptime>        <version>\n"
	tests := []struct {
		name    string
		in      string
		want    Procs
		wantErr string
	}{
		{
			name: "no failed counter",
			in:   header + "10 master 3 0d00h00m01s 2.6.0\n# workers\n11 worker 0 0d00h00m00s 2.6.0\n",
			want: Procs{
				Master:  MasterProc{Proc: Proc{PID: 10, Type: "master", Reloads: 3, Uptime: "0d00h00m01s", Version: "2.6.0"}},
				Workers: []Proc{{PID: 11, Type: "worker", Reloads: 0, Uptime: "0d00h00m00s", Version: "2.6.0"}},
			},
		},
		{
			name: "programs",
			in:   header + "10 master 0 [failed: 2] 0d00h00m01s 3.0.11\n# workers\n11 worker 0 0d00h00m00s 3.0.11\n# programs\n12 dataplane 0 0d00h00m01s -\n# old programs\n9 dataplane 1 0d00h00m09s -\n",
			want: Procs{
				Master:   MasterProc{Proc: Proc{PID: 10, Type: "master", Uptime: "0d00h00m01s", Version: "3.0.11"}, Failed: 2, HasFailed: true},
				Workers:  []Proc{{PID: 11, Type: "worker", Uptime: "0d00h00m00s", Version: "3.0.11"}},
				Programs: []Proc{{PID: 12, Type: "dataplane", Uptime: "0d00h00m01s", Version: "-"}, {PID: 9, Type: "dataplane", Reloads: 1, Uptime: "0d00h00m09s", Version: "-"}},
			},
		},
		{
			name: "no workers, crlf",
			in:   "10 master 0 [failed: 0]\r\n# workers\r\n",
			want: Procs{Master: MasterProc{Proc: Proc{PID: 10, Type: "master"}, HasFailed: true}},
		},
		{name: "empty", in: "", wantErr: "no master row"},
		{name: "unknown command", in: "Unknown command: 'show proc'\n", wantErr: "line 1: malformed master row"},
		{name: "bad pid", in: header + "x master 0\n", wantErr: "bad pid"},
		{name: "bad failed", in: header + "1 master 0 [failed: x] 0d 1\n", wantErr: "bad failed counter"},
		{name: "bad worker reloads", in: header + "1 master 0\n# workers\n2 worker -1\n", wantErr: "line 4: bad reload counter"},
		{name: "unknown section", in: header + "1 master 0\n# zombies\n2 worker 0\n", wantErr: "unknown section"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseShowProc(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalProcs(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func equalProcs(a, b Procs) bool {
	eq := func(x, y []Proc) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	return a.Master == b.Master && eq(a.Workers, b.Workers) && eq(a.OldWorkers, b.OldWorkers) && eq(a.Programs, b.Programs)
}
