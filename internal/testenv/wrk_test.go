package testenv

import (
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	// Printed by wrk 4.1.0 (Debian), trimmed of trailing blanks.
	const clean = `Running 2s test @ http://127.0.0.1:18999/
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.76ms   11.05ms 105.93ms   96.19%
    Req/Sec    11.88k     8.30k   25.64k    47.50%
  Latency Distribution
     50%  100.00us
     75%  443.00us
     90%    4.61ms
     99%   72.55ms
  47520 requests in 2.10s, 5.39MB read
Requests/sec:  22633.03
Transfer/sec:      2.57MB
`
	const failing = `Running 30s test @ http://127.0.0.1:40000/?delay=10ms
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    11.21ms    1.02ms  40.11ms   90.00%
    Req/Sec     1.43k    50.00     1.50k    70.00%
  85512 requests in 30.02s, 10.11MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:   2848.50
Transfer/sec:    344.00KB
`
	tests := []struct {
		name, out string
		want      WrkResult
		failed    int
		wantErr   bool
	}{
		{name: "clean", out: clean, want: WrkResult{Requests: 47520, Duration: 2100 * time.Millisecond,
			Latency: map[string]time.Duration{"50%": 100 * time.Microsecond, "75%": 443 * time.Microsecond,
				"90%": 4610 * time.Microsecond, "99%": 72550 * time.Microsecond}}},
		{name: "failing", out: failing, failed: 15, want: WrkResult{Requests: 85512, Duration: 30020 * time.Millisecond,
			Connect: 1, Read: 2, Write: 3, Timeout: 4, Non2xx: 5}},
		{name: "no summary", out: "unable to connect to 127.0.0.1:1 Connection refused\n", wantErr: true},
		{name: "socket errors garbled", out: "  1 requests in 1.00s, 1KB read\n  Socket errors: connect x\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWrk(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got.Requests != tt.want.Requests || got.Duration != tt.want.Duration ||
				got.Connect != tt.want.Connect || got.Read != tt.want.Read || got.Write != tt.want.Write ||
				got.Timeout != tt.want.Timeout || got.Non2xx != tt.want.Non2xx {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if len(got.Latency) != len(tt.want.Latency) {
				t.Errorf("latency = %v, want %v", got.Latency, tt.want.Latency)
			}
			for k, v := range tt.want.Latency {
				if got.Latency[k] != v {
					t.Errorf("latency %s = %s, want %s", k, got.Latency[k], v)
				}
			}
			if got.Failed() != tt.failed {
				t.Errorf("Failed() = %d, want %d", got.Failed(), tt.failed)
			}
		})
	}
}
