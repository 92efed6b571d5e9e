package watch

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestHoldFirstEmptyAnswer: harender starts while its agent restarts (a
// node reboot starts both). Its first requests fail; the agent then answers
// an empty catalog until the instances register again. That empty first
// answer must not be rendered, but the first empty answer of a healthy
// agent must be, at once.
func TestHoldFirstEmptyAnswer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    Options
		answer  func(t *testing.T, n int, w http.ResponseWriter, r *http.Request)
		heldReq int // the request whose empty answer is held; 0: none
		want    string
		counts  string   // item counts delivered
		held    []string // reasons logged for holding
		release bool     // the held answer is delivered after the hold
	}{
		{
			name: "after failures, replaced by the instance",
			answer: func(t *testing.T, n int, w http.ResponseWriter, r *http.Request) {
				switch n {
				case 1:
					http.Error(w, "connection refused", http.StatusInternalServerError)
				case 2:
					cutConnection(t, w)
				case 3:
					writeWeb(w, 11, true) // the restarted agent's empty catalog
				case 4:
					if after(r, time.Second) {
						writeWeb(w, 12, true, 8001)
					}
				default:
					block(r)
				}
			},
			heldReq: 3, want: "[8001]", counts: "[1]", held: []string{suspectRecovering},
		},
		{
			name: "after failures, Once mode waits for the instance",
			opts: Options{Once: true},
			answer: func(t *testing.T, n int, w http.ResponseWriter, r *http.Request) {
				switch n {
				case 1:
					cutConnection(t, w)
				case 2:
					writeWeb(w, 11, true)
				case 3:
					if after(r, time.Second) {
						writeWeb(w, 12, true, 8001)
					}
				default:
					block(r)
				}
			},
			heldReq: 2, want: "[8001]", counts: "[1]", held: []string{suspectRecovering},
		},
		{
			name: "without a known leader, replaced by the instance",
			answer: func(t *testing.T, n int, w http.ResponseWriter, r *http.Request) {
				switch n {
				case 1:
					writeWeb(w, 11, false)
				case 2:
					if after(r, time.Second) {
						writeWeb(w, 12, true, 8001)
					}
				default:
					block(r)
				}
			},
			heldReq: 1, want: "[8001]", counts: "[1]", held: []string{suspectNoLeader},
		},
		{
			name: "after a failure, a truly empty service is delivered after the hold",
			opts: Options{HoldEmpty: 300 * time.Millisecond},
			answer: func(t *testing.T, n int, w http.ResponseWriter, r *http.Request) {
				switch n {
				case 1:
					http.Error(w, "connection refused", http.StatusInternalServerError)
				case 2:
					writeWeb(w, 11, true)
				default:
					if waitWait(r) {
						writeWeb(w, 11, true)
					}
				}
			},
			heldReq: 2, want: "[]", counts: "[0]", held: []string{suspectRecovering}, release: true,
		},
		{
			name: "healthy agent, delivered at once",
			answer: func(t *testing.T, n int, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					writeWeb(w, 10, true)
					return
				}
				block(r)
			},
			want: "[]", counts: "[0]",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "", tc.opts, func(h *harness, n int, w http.ResponseWriter, r *http.Request) {
				tc.answer(t, n, w, r)
			})
			q := mustWeb(t)
			start := time.Now()
			h.w.Watch(t.Context(), []Dependency{q})
			if tc.heldReq > 0 {
				// The next request goes out once the answer is judged.
				h.waitRequests(tc.heldReq + 1)
				if m := h.w.Snapshot().Missing([]Dependency{q}); len(m) != 1 {
					t.Errorf("the held first answer counts as answered:\n%s", h.logs)
				}
			}
			h.waitPorts(q, tc.want)
			took := time.Since(start)

			logs := h.logLines()
			if got := fmt.Sprint(delivered(logs, q)); got != tc.counts {
				t.Errorf("delivered item counts %s, want %s:\n%s", got, tc.counts, h.logs)
			}
			held := logged(logs, msgHolding)
			var reasons []string
			for _, l := range held {
				reasons = append(reasons, fmt.Sprint(l["reason"]))
				if l["level"] != "WARN" || l["first_answer"] != true || l["items_now"] != 0.0 {
					t.Errorf("holding warning %v", l)
				}
			}
			if fmt.Sprint(reasons) != fmt.Sprint(tc.held) {
				t.Errorf("held for %v, want %v:\n%s", reasons, tc.held, h.logs)
			}
			if len(tc.held) == 0 && took > time.Second { // a hold takes 5s
				t.Errorf("first answer delivered after %v", took)
			}
			dropped, released := len(logged(logs, msgDropped)), len(logged(logs, msgReleased))
			switch {
			case len(tc.held) == 0 && dropped+released != 0,
				len(tc.held) > 0 && tc.release && (dropped != 0 || released != 1),
				len(tc.held) > 0 && !tc.release && (dropped != 1 || released != 0):
				t.Errorf("%d held answers dropped, %d released:\n%s", dropped, released, h.logs)
			}
		})
	}
}
