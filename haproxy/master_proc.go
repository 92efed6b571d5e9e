package haproxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is one process row of the master CLI's `show proc`.
type Proc struct {
	PID     int    // process id
	Type    string // "master", "worker", or a program's name
	Reloads int    // master: reloads done; worker: reloads it has survived
	Uptime  string // as HAProxy prints it, e.g. 0d00h00m01s
	Version string // HAProxy version, empty when not printed
}

// MasterProc is the master's row of `show proc`, with its failed-reload counter.
type MasterProc struct {
	Proc
	Failed    int  // failed reloads since the last good one (0 when not printed)
	HasFailed bool // whether the row carried "[failed: N]"
}

// Procs is a parsed `show proc` reply.
type Procs struct {
	Master     MasterProc
	Workers    []Proc // current workers
	OldWorkers []Proc // workers still finishing after a reload
	Programs   []Proc // processes of `program` sections
}

// ShowProc runs `show proc` on the master CLI and parses it. Being read-only,
// it is retried within m.Retry when the connection is reset or answered with
// nothing, which happens while HAProxy is starting or re-executing.
func (m *Master) ShowProc(ctx context.Context) (Procs, error) {
	retry := m.Retry
	if retry <= 0 {
		retry = defaultMasterRetry
	}
	start := time.Now()
	backoff := 5 * time.Millisecond
	for {
		reply, err := m.Command(ctx, "show proc")
		transient := errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
			(err == nil && strings.TrimSpace(reply) == "")
		if !transient || ctx.Err() != nil || time.Since(start)+backoff > retry {
			if err != nil {
				return Procs{}, err
			}
			p, err := ParseShowProc(reply)
			if err != nil {
				return Procs{}, fmt.Errorf("show proc on %s: %w", m.Path, err)
			}
			return p, nil
		}
		if err := sleepCtx(ctx, backoff); err != nil {
			return Procs{}, fmt.Errorf("show proc on %s: %w", m.Path, err)
		}
		backoff = min(backoff*2, 50*time.Millisecond)
	}
}

// ParseShowProc parses the table printed by the master CLI's `show proc`.
func ParseShowProc(s string) (Procs, error) {
	var (
		p         Procs
		section   = "master"
		hasMaster bool
	)
	for i, raw := range strings.Split(s, "\n") {
		line := strings.TrimSpace(raw)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "#<PID>") || strings.HasPrefix(line, "#<"):
			continue
		case strings.HasPrefix(line, "#"):
			section = strings.TrimSpace(strings.TrimPrefix(line, "#"))
			continue
		}
		f := strings.Fields(line)
		if section == "master" || (len(f) > 1 && f[1] == "master") {
			mp, err := parseMasterRow(f)
			if err != nil {
				return Procs{}, fmt.Errorf("line %d: %w", i+1, err)
			}
			p.Master, hasMaster = mp, true
			continue
		}
		pr, err := parseProcRow(f)
		if err != nil {
			return Procs{}, fmt.Errorf("line %d: %w", i+1, err)
		}
		switch section {
		case "workers":
			p.Workers = append(p.Workers, pr)
		case "old workers":
			p.OldWorkers = append(p.OldWorkers, pr)
		case "programs", "old programs":
			p.Programs = append(p.Programs, pr)
		default:
			return Procs{}, fmt.Errorf("line %d: row in unknown section %q", i+1, section)
		}
	}
	if !hasMaster {
		return Procs{}, errors.New("no master row in show proc reply")
	}
	return p, nil
}

// parseMasterRow parses "PID master RELOADS [failed: N] UPTIME VERSION",
// where "[failed: N]" may be absent.
func parseMasterRow(f []string) (MasterProc, error) {
	if len(f) < 3 || f[1] != "master" {
		return MasterProc{}, fmt.Errorf("malformed master row %q", strings.Join(f, " "))
	}
	var mp MasterProc
	if len(f) >= 5 && f[3] == "[failed:" && strings.HasSuffix(f[4], "]") {
		n, err := strconv.Atoi(strings.TrimSuffix(f[4], "]"))
		if err != nil || n < 0 {
			return MasterProc{}, fmt.Errorf("bad failed counter %q", f[4])
		}
		mp.Failed, mp.HasFailed = n, true
		f = append(f[:3:3], f[5:]...)
	}
	pr, err := parseProcRow(f)
	if err != nil {
		return MasterProc{}, err
	}
	mp.Proc = pr
	return mp, nil
}

// parseProcRow parses "PID TYPE RELOADS [UPTIME [VERSION]]".
func parseProcRow(f []string) (Proc, error) {
	if len(f) < 3 {
		return Proc{}, fmt.Errorf("short row %q", strings.Join(f, " "))
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return Proc{}, fmt.Errorf("bad pid %q", f[0])
	}
	reloads, err := strconv.Atoi(f[2])
	if err != nil || reloads < 0 {
		return Proc{}, fmt.Errorf("bad reload counter %q", f[2])
	}
	pr := Proc{PID: pid, Type: f[1], Reloads: reloads}
	if len(f) > 3 {
		pr.Uptime = f[3]
	}
	if len(f) > 4 {
		pr.Version = strings.Join(f[4:], " ")
	}
	return pr, nil
}
