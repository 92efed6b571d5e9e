package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// readID reads a reply of an instance ("hello from ID") and returns ID;
// "" with an error for anything else.
func readID(resp *http.Response) (string, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	id, ok := bytes.CutPrefix(bytes.TrimSpace(b), []byte("hello from "))
	if !ok {
		return "", fmt.Errorf("reply %q", b)
	}
	return string(id), nil
}

// prober sends requests back to back through the frontend from n clients,
// each on its own keep-alive connection, and records every answer.
type prober struct {
	mu    sync.Mutex
	recs  []probe
	stop  chan struct{}
	wg    sync.WaitGroup
	start time.Time
}

func startProber(front, n int, start time.Time) *prober {
	p := &prober{stop: make(chan struct{}), start: start}
	url := fmt.Sprintf("http://127.0.0.1:%d/", front)
	for range n {
		p.wg.Add(1)
		go p.loop(url)
	}
	return p
}

func (p *prober) loop(url string) {
	defer p.wg.Done()
	c := &http.Client{
		Timeout:   3 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true},
	}
	var local []probe
	for {
		select {
		case <-p.stop:
			p.mu.Lock()
			p.recs = append(p.recs, local...)
			p.mu.Unlock()
			return
		default:
		}
		sent := time.Since(p.start)
		resp, err := c.Get(url)
		r := probe{Sent: sent}
		if err == nil {
			r.Rev = resp.Header.Get("X-Bench-Rev")
			r.Inst, err = readID(resp)
		}
		r.Recv, r.OK = time.Since(p.start), err == nil
		local = append(local, r)
		if err != nil {
			time.Sleep(time.Millisecond) // no busy loop on a refused connect
		}
	}
}

// finish stops the clients and returns every probe, sorted by Recv.
func (p *prober) finish() []probe {
	close(p.stop)
	p.wg.Wait()
	sort.Slice(p.recs, func(i, j int) bool { return p.recs[i].Recv < p.recs[j].Recv })
	return p.recs
}
