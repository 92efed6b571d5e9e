package ha

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// writeDoc writes docs/ha.md: how the pair is set up, and the table of
// the run that just ended.
func writeDoc(path, table, haproxyBin string) error {
	hap, _ := exec.Command(haproxyBin, "-v").Output()
	ka, _ := exec.Command("keepalived", "--version").CombinedOutput()
	doc := fmt.Sprintf(docText,
		cmpOr(os.Getenv("HA_ADVERT_INT"), "0.05"),
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(),
		firstLine(string(ka)), firstLine(string(hap)), table)
	return os.WriteFile(path, []byte(doc), 0o644)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(l)
}

const docText = `# A load-balancer pair with no single point of failure

Two nodes, each with HAProxy (master-worker, started by harender with
` + "`start = true`" + `), harender and keepalived, share one virtual IP (VIP).
keepalived runs VRRP v3 over unicast peers (multicast is not available on
AWS). ` + "`make ha-test`" + ` builds the whole thing in network namespaces (a
switch, two nodes, a client, and a backend namespace with a Consul agent
and two gateway instances), runs every fault below on whichever node holds
the VIP, and writes this file. The configs are
[examples/ha/keepalived.conf.tmpl](../examples/ha/keepalived.conf.tmpl) and
[examples/ha/harender.hcl.tmpl](../examples/ha/harender.hcl.tmpl).

## How a node gives the VIP up

- **HAProxy dies, fails to start again, or an apply fails.** harender
  supervises HAProxy and writes ` + "`haproxy { vrrp_weight_file }`" + `: ` + "`0`" + ` while
  HAProxy runs what was applied, ` + "`-254`" + ` the moment its HAProxy exits (the
  goroutine that waits on the process writes it, not the next reconcile
  tick), while a start fails, and while a reload is refused or cannot be
  confirmed. keepalived's ` + "`track_file`" + ` (weight 1) reads the file on every
  inotify event; -254 x 1 < -253 puts the instance in FAULT, which sends a
  priority-0 advert, and the peer takes the VIP after its skew time instead
  of 3 missed adverts. A candidate that ` + "`haproxy -c`" + ` rejects is *not* a
  fault: HAProxy keeps serving the last good config, and both nodes render
  the same candidate, so both would give the VIP up.
- **harender dies.** Under systemd, harender.service's ExecStopPost writes
  -254 into the same file; in production keepalived can also track the
  process itself (` + "`vrrp_track_process`" + `, netlink process events, no polling;
  the template's TrackProcess block). The kernel of this test machine has no
  process-events connector (keepalived logs errno 111 and holds the instance
  in FAULT), so the test launches harender the way systemd would and writes
  -254 when it exits.
- **The node or its link is gone.** The peer takes over after 3 adverts
  plus its skew ((256 - priority) / 256 adverts): with ` + "`advert_int %[1]s`" + `
  (VRRP v3 counts in centiseconds) 3 x %[1]s s and a little more.
- **Planned hand-over** (` + "`systemctl stop harender`" + `): on SIGTERM harender
  writes -254, waits ` + "`vrrp_handover_delay`" + ` (1 s) while the peer takes the
  VIP, and only then stops HAProxy.

**Preemption: nopreempt, both nodes start as BACKUP.** A node that comes
back (HAProxy restarted, harender started again, link up) stays BACKUP, so
the VIP moves once per fault, never back and forth. preempt_delay would
move it back later, a second hand-over that costs requests for nothing: the
nodes are equal. The VRRP process runs with real-time priority
(` + "`vrrp_rt_priority`" + `): adverts every few centiseconds on a busy machine
otherwise come late, and the backup takes the VIP from a live master.

## Measured

A client namespace opens a new connection to the VIP every 10 ms (one GET
each, 500 ms timeout) and records the start time of every failure; wrk
(1 thread, 8 keep-alive connections) adds load. For each fault: the time
from the fault to the first answer after the last failure, the failed
probes (a probe still in flight when the fault hits counts in the window),
and the probes that failed outside it (started 1 s to 0.5 s before the
fault, or 2 to 4 s after it: a flapping VIP would show there).
wrk's errors are its keep-alive connections cut when the VIP moves: a
connection open on one node cannot continue on the other.

Run of %[2]s, %[3]d CPUs shared with other work, %[4]s, %[5]s:

%[6]s
Reproduce: ` + "`make ha-test`" + ` (as root; about 3 minutes). ` + "`make test`" + ` runs the
HAProxy-killed fault alone (TestHAPairHAProxyKilled).
`
