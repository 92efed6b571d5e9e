package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/harender/harender/internal/testenv"
)

// runOne runs one stack through one scenario and returns its row.
func runOne(o *options, sp stackSpec, sc scenario) result {
	res := result{Stack: sp.name, Scenario: sc.name, Reloads: -1, Runtime: -1, CPU: -1}
	dir, err := os.MkdirTemp(o.work, strings.ReplaceAll(sp.name, "@", "-")+"-"+sc.name+"-")
	if err != nil {
		res.Err = err.Error()
		return res
	}
	e := &env{o: o, dir: dir, ps: &procs{dir: dir}, ports: ports{o.portBase}}
	defer func() {
		e.ps.stopAll()
		killPIDFile(e.path("haproxy.pid"))
		if !o.keep && res.Err == "" {
			os.RemoveAll(dir)
		}
	}()
	if err := measure(e, sp, sc, &res); err != nil {
		res.Err = fmt.Sprintf("%v (logs in %s)", err, dir)
	}
	return res
}

func measure(e *env, sp stackSpec, sc scenario, res *result) error {
	st, src := sp.build(e.o)
	e.src = src
	if err := st.prepare(e); err != nil {
		return err
	}
	if err := src.start(e); err != nil {
		return err
	}
	var stable []string
	for n := 1; n <= 3+sc.churners; n++ {
		in, err := e.newInstance(n)
		if err != nil {
			return err
		}
		if n <= 3 {
			stable = append(stable, in.id)
			if err := src.join(in); err != nil {
				return fmt.Errorf("join %s: %w", in.id, err)
			}
		}
	}
	if err := st.start(e); err != nil {
		return err
	}
	if err := served(e.ports.front(), stable, 60*time.Second); err != nil {
		return err
	}
	time.Sleep(time.Second) // let the first health checks settle
	r0, u0, c0 := st.reloads(e), st.runtime(e), e.ps.cpu(st.controller())

	length := warmup + sc.length(e.o) + tail
	wrkOut := &bytes.Buffer{}
	wrk := exec.Command(e.o.wrk, "-t", "2", "-c", fmt.Sprint(e.o.conns), "-d", fmt.Sprintf("%ds", int(length.Seconds()+0.999)),
		"--latency", fmt.Sprintf("http://127.0.0.1:%d/", e.ports.front()))
	wrk.Stdout, wrk.Stderr = wrkOut, wrkOut
	rec := &recorder{start: time.Now()}
	if err := wrk.Start(); err != nil {
		return fmt.Errorf("wrk: %w", err)
	}
	pr := startProber(e.ports.front(), e.o.probes, rec.start)
	runErr := sc.run(e, rec)
	werr := wrk.Wait()
	probes := pr.finish()
	end := time.Since(rec.start)
	res.Load = strings.Fields(loadavg())[0]
	if runErr != nil {
		return runErr
	}
	if werr != nil {
		return fmt.Errorf("wrk: %w: %s", werr, wrkOut)
	}
	w, err := testenv.ParseWrk(wrkOut.String())
	if err != nil {
		return err
	}
	os.WriteFile(e.path("wrk.out"), wrkOut.Bytes(), 0o644)
	res.Failed = w.Failed()
	res.FailedDetail = failedDetail(w)
	res.Throughput = float64(w.Requests) / w.Duration.Seconds()
	if r1 := st.reloads(e); r0 >= 0 && r1 >= 0 {
		res.Reloads = r1 - r0
	}
	if u1 := st.runtime(e); u0 >= 0 && u1 >= 0 {
		res.Runtime = u1 - u0
	}
	if c1 := e.ps.cpu(st.controller()); c0 >= 0 && c1 >= 0 {
		res.CPU = c1 - c0
	}
	for _, p := range probes {
		if !p.OK {
			res.ProbeFailed++
		}
	}
	ls := latencies(rec.events, probes, end)
	writeEvents(e.path("events.tsv"), rec.events, ls)
	res.Up, res.Down, res.KV = summarise(ls, "up"), summarise(ls, "down"), summarise(ls, "kv")
	return nil
}

// failedDetail says how wrk's failures split, "" when there were none.
func failedDetail(w testenv.WrkResult) string {
	var parts []string
	for _, p := range []struct {
		name string
		n    int
	}{{"non-2xx", w.Non2xx}, {"connect", w.Connect}, {"read", w.Read}, {"write", w.Write}, {"timeout", w.Timeout}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", p.name, p.n))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// writeEvents keeps every event and its latency in the run's folder.
func writeEvents(path string, events []event, ls []latency) {
	var b strings.Builder
	b.WriteString("at_ms\tkind\tinstance\tlatency_ms\tmissed\n")
	for i, ev := range events {
		fmt.Fprintf(&b, "%.1f\t%s\t%s\t%.1f\t%v\n", float64(ev.At)/1e6, ev.Kind, ev.Inst, float64(ls[i].D)/1e6, ls[i].Missed)
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
}
