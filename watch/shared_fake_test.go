package watch

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fakeCatalog is an httptest stand-in for the four endpoints the shared
// queries use, with Consul's index rules (per table, per service), for the
// attribution and fault paths of shared_hub.go. The real agent is in
// shared_agent_test.go.
type fakeCatalog struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	raft      uint64
	checksIdx uint64
	svcsIdx   uint64
	nodesIdx  uint64
	svcIdx    map[string]uint64
	insts     map[string]*fakeInst // by ID
	nodes     map[string]*fakeNode
	moved     chan struct{}
	requests  map[string]int // by path
	fetched   map[string]int // health/service requests by service
	// fault, if set, may answer a request itself: it returns true if it did.
	fault func(w http.ResponseWriter, r *http.Request) bool

	conns, maxConns int
	epoch           int // moves on restart: blocked queries answer at once
}

type fakeInst struct {
	node, id, name string
	addr           string
	port           int
	tags           []string
	status         string // "" when the instance has no check
	checkIdx       uint64
}

type fakeNode struct {
	addr   string
	modify uint64
}

func newFakeCatalog(t *testing.T) *fakeCatalog {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	f := &fakeCatalog{t: t, svcIdx: map[string]uint64{}, insts: map[string]*fakeInst{},
		nodes: map[string]*fakeNode{}, moved: make(chan struct{}), requests: map[string]int{}, fetched: map[string]int{}}
	f.raft = 10
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch s {
		case http.StateNew:
			f.conns++
			f.maxConns = max(f.maxConns, f.conns)
		case http.StateClosed, http.StateHijacked:
			f.conns--
		}
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCatalog) addr() string { return strings.TrimPrefix(f.srv.URL, "http://") }

// write runs change as one raft write and wakes the blocked queries.
func (f *fakeCatalog) write(change func(idx uint64)) {
	f.mu.Lock()
	f.raft++
	change(f.raft)
	close(f.moved)
	f.moved = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeCatalog) register(i fakeInst) {
	f.write(func(idx uint64) {
		n := f.nodes[i.node]
		if n == nil {
			f.nodes[i.node] = &fakeNode{addr: "10.0.0.1", modify: idx}
			f.nodesIdx = idx
		}
		if i.status != "" {
			i.checkIdx = idx
			f.checksIdx = idx
		}
		f.insts[i.id] = &i
		f.svcsIdx, f.svcIdx[i.name] = idx, idx
	})
}

func (f *fakeCatalog) setStatus(id, status string) {
	f.write(func(idx uint64) {
		i := f.insts[id]
		i.status, i.checkIdx = status, idx
		f.checksIdx, f.svcIdx[i.name] = idx, idx
	})
}

// setAddr changes an instance's address and nothing else: no check moves.
func (f *fakeCatalog) setAddr(id, addr string) {
	f.write(func(idx uint64) {
		i := f.insts[id]
		i.addr = addr
		f.svcsIdx, f.svcIdx[i.name] = idx, idx
	})
}

// reregister moves an instance and writes its check, at one index, as the
// agent's sync of a service re-registered with a check whose status
// changed does.
func (f *fakeCatalog) reregister(id, addr, status string) {
	f.write(func(idx uint64) {
		i := f.insts[id]
		i.addr, i.status, i.checkIdx = addr, status, idx
		f.checksIdx, f.svcsIdx, f.svcIdx[i.name] = idx, idx, idx
	})
}

func (f *fakeCatalog) deregister(id string) {
	f.write(func(idx uint64) {
		i := f.insts[id]
		delete(f.insts, id)
		if i.status != "" {
			f.checksIdx = idx
		}
		f.svcsIdx, f.svcIdx[i.name] = idx, idx
	})
}

func (f *fakeCatalog) setNodeAddr(node, addr string) {
	f.write(func(idx uint64) {
		f.nodes[node].addr, f.nodes[node].modify = addr, idx
		f.nodesIdx = idx
		for _, i := range f.insts {
			if i.node == node {
				f.svcIdx[i.name] = idx
			}
		}
	})
}

// restart loses every index, as a -dev agent restarted and fed the same
// catalog again would: every index starts again from a small number.
func (f *fakeCatalog) restart() {
	f.write(func(uint64) {
		f.epoch++
		f.raft = 2
		f.checksIdx, f.svcsIdx, f.nodesIdx = 2, 2, 2
		for k := range f.svcIdx {
			f.svcIdx[k] = 2
		}
		for _, n := range f.nodes {
			n.modify = 2
		}
		for _, i := range f.insts {
			if i.checkIdx > 0 {
				i.checkIdx = 2
			}
		}
	})
}

func (f *fakeCatalog) counts() (requests, fetched map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	requests, fetched = map[string]int{}, map[string]int{}
	for k, v := range f.requests {
		requests[k] = v
	}
	for k, v := range f.fetched {
		fetched[k] = v
	}
	return requests, fetched
}

func (f *fakeCatalog) resetCounts() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests, f.fetched = map[string]int{}, map[string]int{}
}

func (f *fakeCatalog) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	f.mu.Lock()
	f.requests[path]++
	if name, ok := strings.CutPrefix(path, "/v1/health/service/"); ok {
		f.fetched[name]++
	}
	fault := f.fault
	f.mu.Unlock()
	if fault != nil && fault(w, r) {
		return
	}
	index, _ := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64)
	wait, err := time.ParseDuration(r.URL.Query().Get("wait"))
	if err != nil {
		wait = time.Minute
	}
	table := func() uint64 {
		switch path {
		case "/v1/health/state/any":
			return f.checksIdx
		case "/v1/catalog/services":
			return f.svcsIdx
		case "/v1/catalog/nodes":
			return f.nodesIdx
		}
		return f.svcIdx[strings.TrimPrefix(path, "/v1/health/service/")]
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	f.mu.Lock()
	epoch := f.epoch
	for index > 0 && table() <= index && f.epoch == epoch {
		moved := f.moved
		f.mu.Unlock()
		timedOut := false
		select {
		case <-moved:
		case <-timer.C:
			timedOut = true
		case <-r.Context().Done():
			return
		}
		f.mu.Lock()
		if timedOut {
			break
		}
	}
	idx := table()
	body := f.answer(path, r.URL.Query().Get("tag"))
	f.mu.Unlock()
	w.Header().Set("X-Consul-Index", strconv.FormatUint(max(idx, 1), 10))
	w.Header().Set("X-Consul-KnownLeader", "true")
	w.Header().Set("X-Consul-LastContact", "0")
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(body); err != nil {
		f.t.Logf("fake consul: %v", err)
	}
}

// answer is the body of path. f.mu is held.
func (f *fakeCatalog) answer(path, tag string) any {
	ids := make([]string, 0, len(f.insts))
	for id := range f.insts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	switch path {
	case "/v1/health/state/any":
		list := []map[string]any{}
		for _, id := range ids {
			i := f.insts[id]
			if i.status != "" {
				list = append(list, i.check())
			}
		}
		return list
	case "/v1/catalog/services":
		m := map[string][]string{}
		for _, id := range ids {
			i := f.insts[id]
			m[i.name] = append(m[i.name], i.tags...)
			if m[i.name] == nil {
				m[i.name] = []string{}
			}
		}
		return m
	case "/v1/catalog/nodes":
		list := []map[string]any{}
		for name, n := range f.nodes {
			list = append(list, map[string]any{"Node": name, "Address": n.addr, "ModifyIndex": n.modify})
		}
		return list
	}
	name := strings.TrimPrefix(path, "/v1/health/service/")
	list := []map[string]any{}
	for _, id := range ids {
		i := f.insts[id]
		if i.name != name || (tag != "" && !containsFold(i.tags, tag)) {
			continue
		}
		var checks []map[string]any
		if i.status != "" {
			checks = append(checks, i.check())
		}
		list = append(list, map[string]any{
			"Node":    map[string]any{"Node": i.node, "Address": f.nodes[i.node].addr},
			"Service": map[string]any{"ID": i.id, "Service": i.name, "Address": i.addr, "Port": i.port, "Tags": i.tags},
			"Checks":  checks,
		})
	}
	return list
}

func (i *fakeInst) check() map[string]any {
	return map[string]any{"Node": i.node, "CheckID": "service:" + i.id, "Status": i.status,
		"ServiceID": i.id, "ServiceName": i.name, "ModifyIndex": i.checkIdx, "CreateIndex": i.checkIdx}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
