package watch

import (
	"reflect"
	"testing"

	"github.com/hashicorp/consul/api"
)

func check(id, status string) *api.HealthCheck {
	return &api.HealthCheck{CheckID: id, Status: status}
}

func TestAggregatedStatusFilter(t *testing.T) {
	tests := []struct {
		name    string
		checks  api.HealthChecks
		status  string
		filters map[string]bool // filter string → accepted
	}{
		{"no checks", nil, "passing", map[string]bool{"passing": true, "any": true, "warning": false}},
		{"all passing", api.HealthChecks{check("a", "passing"), check("b", "passing")}, "passing",
			map[string]bool{"passing": true, "warning": false, "critical": false, "passing,warning": true}},
		{"one warning", api.HealthChecks{check("a", "passing"), check("b", "warning")}, "warning",
			map[string]bool{"passing": false, "warning": true, "passing,warning": true, "any": true}},
		{"critical beats warning", api.HealthChecks{check("a", "warning"), check("b", "critical")}, "critical",
			map[string]bool{"passing,warning": false, "critical": true, "any": true}},
		{"node maintenance beats all", api.HealthChecks{check("_node_maintenance", "critical"), check("b", "passing")}, "maintenance",
			map[string]bool{"passing": false, "critical": false, "maintenance": true, "any": true}},
		{"service maintenance", api.HealthChecks{check("_service_maintenance:web-1", "critical")}, "maintenance",
			map[string]bool{"maintenance": true, "critical": false}},
		{"unknown status", api.HealthChecks{check("a", "passing"), check("b", "bogus")}, "",
			map[string]bool{"passing": false, "any": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.checks.AggregatedStatus(); got != tc.status {
				t.Fatalf("status = %q, want %q", got, tc.status)
			}
			for filter, want := range tc.filters {
				q, err := NewHealthServiceQuery("web|" + filter)
				if err != nil {
					t.Fatal(err)
				}
				entry := &api.ServiceEntry{
					Node:    &api.Node{Node: "n1"},
					Service: &api.AgentService{ID: "web-1", Service: "web"},
					Checks:  tc.checks,
				}
				got := len(healthServices(nil, []*api.ServiceEntry{entry}, q.filters, false)) == 1
				if got != want {
					t.Errorf("filter %q accepted = %v, want %v", filter, got, want)
				}
			}
		})
	}
}

func TestEmptyFilterAcceptsNothing(t *testing.T) {
	q, err := NewHealthServiceQuery("web|,")
	if err != nil {
		t.Fatal(err)
	}
	entry := &api.ServiceEntry{Node: &api.Node{Node: "n"}, Service: &api.AgentService{ID: "w"}}
	if got := healthServices(nil, []*api.ServiceEntry{entry}, q.filters, false); len(got) != 0 {
		t.Errorf("got %d services, want 0", len(got))
	}
}

func TestHealthServicesShape(t *testing.T) {
	tags := []string{"b", "a", "b"}
	passing := api.HealthChecks{check("serfHealth", "passing")}
	entries := []*api.ServiceEntry{
		{
			Node:    &api.Node{ID: "id-2", Node: "n2", Address: "10.0.0.2", Meta: map[string]string{"rack": "r2"}},
			Service: &api.AgentService{ID: "web-b", Service: "web", Port: 8080, Tags: tags, Weights: api.AgentWeights{Passing: 1, Warning: 1}},
			Checks:  passing,
		},
		{
			Node:    &api.Node{ID: "id-1", Node: "n1", Address: "10.0.0.1", TaggedAddresses: map[string]string{"wan": "1.2.3.4"}},
			Service: &api.AgentService{ID: "web-z", Service: "web", Address: "192.168.0.9", Port: 9000, Meta: map[string]string{"v": "2"}},
			Checks:  passing,
		},
		{
			Node:    &api.Node{ID: "id-1", Node: "n1", Address: "10.0.0.1"},
			Service: &api.AgentService{ID: "web-a", Service: "web", Port: 9001},
			Checks:  passing,
		},
	}
	want := []*HealthService{
		{
			Node: "n1", NodeID: "id-1", NodeAddress: "10.0.0.1", Address: "10.0.0.1",
			ID: "web-a", Name: "web", Tags: ServiceTags{}, Checks: passing, Status: "passing", Port: 9001,
		},
		{
			Node: "n1", NodeID: "id-1", NodeAddress: "10.0.0.1", NodeTaggedAddresses: map[string]string{"wan": "1.2.3.4"},
			ServiceMeta: map[string]string{"v": "2"}, Address: "192.168.0.9",
			ID: "web-z", Name: "web", Tags: ServiceTags{}, Checks: passing, Status: "passing", Port: 9000,
		},
		{
			Node: "n2", NodeID: "id-2", NodeAddress: "10.0.0.2", NodeMeta: map[string]string{"rack": "r2"}, Address: "10.0.0.2",
			ID: "web-b", Name: "web", Tags: ServiceTags{"a", "b", "b"}, Checks: passing, Status: "passing", Port: 8080,
			Weights: api.AgentWeights{Passing: 1, Warning: 1},
		},
	}
	got := healthServices(nil, entries, []string{"passing"}, false)
	if !reflect.DeepEqual(got, want) {
		for i := range got {
			t.Logf("got[%d] = %+v", i, *got[i])
		}
		t.Fatal("shape differs")
	}
	if !reflect.DeepEqual(tags, []string{"b", "a", "b"}) {
		t.Errorf("input tags were changed: %q", tags)
	}

	// With near, Consul's order is kept.
	near := healthServices(nil, entries, []string{"passing"}, true)
	for i, id := range []string{"web-b", "web-z", "web-a"} {
		if near[i].ID != id {
			t.Errorf("near[%d].ID = %q, want %q", i, near[i].ID, id)
		}
	}

	if got := healthServices(nil, nil, []string{"passing"}, false); got == nil || len(got) != 0 {
		t.Errorf("no entries: got %#v, want empty non-nil slice", got)
	}
}

func TestCatalogSnippets(t *testing.T) {
	got := catalogSnippets(map[string][]string{"web": {"v2", "v1"}, "api": nil, "consul": {}})
	want := []*CatalogSnippet{
		{Name: "api", Tags: ServiceTags{}},
		{Name: "consul", Tags: ServiceTags{}},
		{Name: "web", Tags: ServiceTags{"v1", "v2"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if got := catalogSnippets(nil); got != nil {
		t.Errorf("empty catalog: got %#v, want nil (as consul-template)", got)
	}
}

func TestCatalogServices(t *testing.T) {
	got := catalogServices([]*api.CatalogService{
		{ID: "i2", Node: "n2", ServiceID: "web-2", ServiceName: "web", ServiceTags: []string{"z", "a"}, ServicePort: 2},
		{ID: "i1", Node: "n1", ServiceID: "web-1", ServiceName: "web", ServicePort: 1, Datacenter: "dc1"},
	})
	want := []*CatalogService{
		{ID: "i2", Node: "n2", ServiceID: "web-2", ServiceName: "web", ServiceTags: ServiceTags{"a", "z"}, ServicePort: 2},
		{ID: "i1", Node: "n1", ServiceID: "web-1", ServiceName: "web", ServiceTags: ServiceTags{}, ServicePort: 1, Datacenter: "dc1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if got := catalogServices(nil); got != nil {
		t.Errorf("empty: got %#v, want nil (as consul-template)", got)
	}
}

func TestCatalogNodes(t *testing.T) {
	in := []*api.Node{
		{Node: "b", Address: "10.0.0.2"},
		{Node: "a", Address: "10.0.0.9", Datacenter: "dc1"},
		{Node: "a", Address: "10.0.0.1", ID: "x"},
	}
	got := catalogNodes(in, false)
	want := []*Node{
		{Node: "a", Address: "10.0.0.1", ID: "x"},
		{Node: "a", Address: "10.0.0.9", Datacenter: "dc1"},
		{Node: "b", Address: "10.0.0.2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if near := catalogNodes(in, true); near[0].Node != "b" {
		t.Errorf("near: order changed: %+v", near)
	}
}

func TestCatalogNode(t *testing.T) {
	got := catalogNode(&api.CatalogNode{
		Node: &api.Node{ID: "id", Node: "n1", Address: "10.0.0.1", Meta: map[string]string{"k": "v"}},
		Services: map[string]*api.AgentService{
			"web-2": {ID: "web-2", Service: "web", Port: 2, Tags: []string{"y", "x"}},
			"api":   {ID: "api", Service: "api", Port: 3, EnableTagOverride: true},
			"web-1": {ID: "web-1", Service: "web", Port: 1, Address: "1.1.1.1"},
		},
	})
	want := &CatalogNode{
		Node: &Node{ID: "id", Node: "n1", Address: "10.0.0.1", Meta: map[string]string{"k": "v"}},
		Services: []*CatalogNodeService{
			{ID: "api", Service: "api", Port: 3, Tags: ServiceTags{}, EnableTagOverride: true},
			{ID: "web-1", Service: "web", Port: 1, Tags: ServiceTags{}, Address: "1.1.1.1"},
			{ID: "web-2", Service: "web", Port: 2, Tags: ServiceTags{"x", "y"}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if got := catalogNode(nil); !reflect.DeepEqual(got, &CatalogNode{}) {
		t.Errorf("absent node: got %+v, want empty CatalogNode", got)
	}
}

func TestKeyPairs(t *testing.T) {
	in := api.KVPairs{
		{Key: "app/", Value: nil},
		{Key: "app/a", Value: []byte("1"), Flags: 7, ModifyIndex: 9, CreateIndex: 8},
		{Key: "app/sub/b", Value: []byte("2"), Session: "s", LockIndex: 1},
	}
	got := keyPairs(in, "app")
	want := []*KeyPair{
		{Path: "app/", Key: "", Value: ""},
		{Path: "app/a", Key: "a", Value: "1", Flags: 7, ModifyIndex: 9, CreateIndex: 8},
		{Path: "app/sub/b", Key: "sub/b", Value: "2", Session: "s", LockIndex: 1},
	}
	if !reflect.DeepEqual(got, want) {
		for _, p := range got {
			t.Logf("%+v", *p)
		}
		t.Fatal("shape differs")
	}
	if got := keyPairs(nil, "app"); got == nil || len(got) != 0 {
		t.Errorf("no pairs: got %#v, want empty non-nil", got)
	}
}

func TestRelativeKeys(t *testing.T) {
	got := relativeKeys([]string{"app/", "app/a", "app/sub/b", "apple"}, "app/")
	want := []string{"", "a", "sub/b", "apple"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
