package watch

// Snapshot is an immutable copy of the data received so far, keyed by
// dependency identity. The values themselves are shared, read-only.
type Snapshot struct {
	data map[string]any
}

// Get returns the data of d and whether d has been answered. A KVGetQuery
// for an absent key is answered with a nil value and true.
func (s Snapshot) Get(d Dependency) (any, bool) {
	v, ok := s.data[d.String()]
	return v, ok
}

// Len is the number of answered dependencies.
func (s Snapshot) Len() int {
	return len(s.data)
}

// Missing returns those of deps that have no answer yet, in order.
func (s Snapshot) Missing(deps []Dependency) []Dependency {
	var missing []Dependency
	for _, d := range deps {
		if _, ok := s.data[d.String()]; !ok {
			missing = append(missing, d)
		}
	}
	return missing
}
