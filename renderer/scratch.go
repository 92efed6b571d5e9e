package renderer

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Scratch is a per-execution key/value store that templates reach through
// {{ scratch }}: {{ scratch.Set "k" 1 }}, {{ scratch.Get "k" }}. It is safe
// for concurrent use. The setters return "" so that calling one in a template
// prints nothing. The zero Scratch is ready to use.
type Scratch struct {
	mu     sync.RWMutex
	values map[string]any
}

// newScratch returns an empty Scratch.
func newScratch() *Scratch {
	return &Scratch{values: make(map[string]any)}
}

// Key reports whether k has been set.
func (s *Scratch) Key(k string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.values[k]
	return ok
}

// Get returns the value at k, or nil.
func (s *Scratch) Get(k string) any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.values[k]
}

// Set stores v at k, replacing what was there.
func (s *Scratch) Set(k string, v any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.values[k] = v
	return ""
}

// SetX stores v at k unless k is already set.
func (s *Scratch) SetX(k string, v any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	if _, ok := s.values[k]; !ok {
		s.values[k] = v
	}
	return ""
}

// MapSet stores v at key mk of the map at k, creating the map if k is unset.
// It is an error if k holds something other than such a map.
func (s *Scratch) MapSet(k, mk string, v any) (string, error) {
	return s.mapSet(k, mk, v, true)
}

// MapSetX is MapSet that leaves an existing mk alone.
func (s *Scratch) MapSetX(k, mk string, v any) (string, error) {
	return s.mapSet(k, mk, v, false)
}

func (s *Scratch) mapSet(k, mk string, v any, overwrite bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	if _, ok := s.values[k]; !ok {
		s.values[k] = make(map[string]any)
	}
	m, ok := s.values[k].(map[string]any)
	if !ok {
		return "", fmt.Errorf("%q is not a map", k)
	}
	if _, exists := m[mk]; overwrite || !exists {
		m[mk] = v
	}
	return "", nil
}

// MapValues returns the values of the map at k sorted by their keys, or nil
// if k is unset or not a map made by MapSet.
func (s *Scratch) MapValues(k string) ([]any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.values[k].(map[string]any)
	if !ok {
		return nil, nil
	}
	keys := slices.Sorted(maps.Keys(m))
	out := make([]any, len(keys))
	for i, key := range keys {
		out[i] = m[key]
	}
	return out, nil
}

func (s *Scratch) init() {
	if s.values == nil {
		s.values = make(map[string]any)
	}
}
