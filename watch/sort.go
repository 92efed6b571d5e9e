package watch

// Orderings identical to consul-template's sort.Interface types of the same
// names; they are used with sort.Stable, so equal elements keep Consul's
// order.

// ByNodeThenID orders health services by node name, then service ID.
type ByNodeThenID []*HealthService

func (s ByNodeThenID) Len() int      { return len(s) }
func (s ByNodeThenID) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s ByNodeThenID) Less(i, j int) bool {
	if s[i].Node == s[j].Node {
		return s[i].ID < s[j].ID
	}
	return s[i].Node < s[j].Node
}

// ByName orders catalog snippets by service name.
type ByName []*CatalogSnippet

func (s ByName) Len() int           { return len(s) }
func (s ByName) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s ByName) Less(i, j int) bool { return s[i].Name < s[j].Name }

// ByNode orders nodes by name, then address.
type ByNode []*Node

func (s ByNode) Len() int      { return len(s) }
func (s ByNode) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s ByNode) Less(i, j int) bool {
	if s[i].Node == s[j].Node {
		return s[i].Address < s[j].Address
	}
	return s[i].Node < s[j].Node
}

// ByService orders a node's services by service name, then ID.
type ByService []*CatalogNodeService

func (s ByService) Len() int      { return len(s) }
func (s ByService) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s ByService) Less(i, j int) bool {
	if s[i].Service == s[j].Service {
		return s[i].ID < s[j].ID
	}
	return s[i].Service < s[j].Service
}
