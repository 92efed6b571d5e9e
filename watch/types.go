package watch

import (
	"slices"

	"github.com/hashicorp/consul/api"
)

// The data types below carry the same field names and types as
// consul-template v0.42.1's dependency package, so a template written for
// consul-template renders the same here. Values handed out by the Watcher
// are shared between snapshots and must be treated as read-only.

// ServiceTags is the list of tags of a service, sorted.
type ServiceTags []string

// HealthService is one instance of a service, as returned by `service`.
type HealthService struct {
	Node                   string
	NodeID                 string
	NodeAddress            string
	NodeTaggedAddresses    map[string]string
	NodeMeta               map[string]string
	ServiceMeta            map[string]string
	Address                string
	ServiceTaggedAddresses map[string]api.ServiceAddress
	ID                     string
	Name                   string
	Tags                   ServiceTags
	Checks                 api.HealthChecks
	Status                 string
	Port                   int
	Weights                api.AgentWeights
}

// CatalogSnippet is one service name with its tags, as returned by
// `services`.
type CatalogSnippet struct {
	Name string
	Tags ServiceTags
}

// CatalogService is one catalog entry of a service, regardless of health.
type CatalogService struct {
	ID              string
	Node            string
	Address         string
	Datacenter      string
	TaggedAddresses map[string]string
	NodeMeta        map[string]string
	ServiceID       string
	ServiceName     string
	ServiceAddress  string
	ServiceTags     ServiceTags
	ServiceMeta     map[string]string
	ServicePort     int
}

// Node is a node in the catalog, as returned by `nodes`.
type Node struct {
	ID              string
	Node            string
	Address         string
	Datacenter      string
	TaggedAddresses map[string]string
	Meta            map[string]string
}

// CatalogNode is a node and its services, as returned by `node`.
type CatalogNode struct {
	Node     *Node
	Services []*CatalogNodeService
}

// CatalogNodeService is one service registered on a node.
type CatalogNodeService struct {
	ID                string
	Service           string
	Tags              ServiceTags
	Meta              map[string]string
	Port              int
	Address           string
	EnableTagOverride bool
}

// KeyPair is one key of a KV prefix, as returned by `ls` and `tree`. Key is
// relative to the prefix; Path is the full key.
type KeyPair struct {
	Path  string
	Key   string
	Value string

	CreateIndex uint64
	ModifyIndex uint64
	LockIndex   uint64
	Flags       uint64
	Session     string
}

// sortedTags copies and sorts tags, as consul-template does. It does not
// remove duplicates, because consul-template does not either.
func sortedTags(tags []string) ServiceTags {
	out := make([]string, 0, len(tags))
	out = append(out, tags...)
	slices.Sort(out)
	return ServiceTags(out)
}
