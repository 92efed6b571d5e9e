package watch

import (
	"fmt"
	"testing"
	"time"
)

// TestSharedMoveThenCheckChange: an instance moves (no check changes with
// it, so nothing names its service) and, right after, its check changes
// (its status or output, written a moment after the move). Two bugs hid
// the move until the poller's wait ran out (5 minutes in harender run):
//
//   - the check was patched into the data the hub held, still at the old
//     address, at the check's index; the fetch the move caused came back
//     at that very index, and the poller took it as "no change";
//   - the patch woke the poller, and the fetch landed while the poller
//     slept its MinInterval: its next query waited for a change after
//     that fetch, not for an index other than its own.
//
// WaitTime is longer than the test's wait, so only the hub can deliver.
func TestSharedMoveThenCheckChange(t *testing.T) {
	f := newFakeCatalog(t)
	w, qs := startShared(t, f, 4, func(o *Options) {
		o.MinInterval = 300 * time.Millisecond
		o.WaitTime = time.Minute
	})
	for n := range 10 {
		time.Sleep(400 * time.Millisecond) // the poller waits in the hub, past its MinInterval
		addr := fmt.Sprintf("10.5.5.%d", n+1)
		f.setAddr("svc-02-0", addr)
		f.setStatus("svc-02-0", "passing") // same status, the check's index moves
		waitShared(t, w, qs[2], "svc-02-0 at "+addr, func(l []*HealthService) bool {
			return len(l) == 2 && l[0].Address == addr
		})
	}
}
