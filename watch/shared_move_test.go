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

// TestSharedMoveWithCheck: an instance moves and its check changes at the
// same index (the agent syncs a re-registered service with its check in
// one write). The checks trigger patches the check into data that still
// has the old address, and the services trigger took the check as the
// explanation of its move: no fetch, the move was lost. The services
// trigger now fetches the service whose check it patched at that index,
// and only that one.
func TestSharedMoveWithCheck(t *testing.T) {
	f := newFakeCatalog(t)
	w, qs := startShared(t, f, 4)
	for n := range 10 {
		settled(f)
		f.resetCounts()
		addr, status := fmt.Sprintf("10.5.6.%d", n+1), "warning"
		if n%2 == 1 {
			status = "passing"
		}
		f.reregister("svc-01-1", addr, status)
		if status != "passing" {
			waitShared(t, w, qs[1], "svc-01-1 not passing", func(l []*HealthService) bool { return len(l) == 1 })
			continue
		}
		waitShared(t, w, qs[1], "svc-01-1 passing at "+addr, func(l []*HealthService) bool {
			return len(l) == 2 && l[1].Address == addr
		})
		onlyFetched(t, fmt.Sprintf("move %d with its check", n), settled(f), "svc-01")
	}
}

// TestSharedMoveThenOtherLeaves: an instance moves (nothing names it) and,
// while the services trigger waits for the checks trigger to explain the
// move, an instance of another service leaves with its check. The removal
// explained every service write since the checks trigger's previous
// answer, the move with it: nothing fetched the moved instance's service.
func TestSharedMoveThenOtherLeaves(t *testing.T) {
	f := newFakeCatalog(t)
	w, qs := startShared(t, f, 4)
	for n := range 5 {
		settled(f)
		addr := fmt.Sprintf("10.5.8.%d", n+1)
		f.setAddr("svc-02-0", addr)
		time.Sleep(50 * time.Millisecond) // the services trigger sees the move alone
		f.deregister("svc-03-1")
		waitShared(t, w, qs[2], "svc-02-0 at "+addr, func(l []*HealthService) bool {
			return len(l) == 2 && l[0].Address == addr
		})
		f.register(fakeInst{node: "node-3", id: "svc-03-1", name: "svc-03", addr: "10.1.3.1", port: 80, status: "passing"})
	}
}
