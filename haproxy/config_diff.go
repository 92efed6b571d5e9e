package haproxy

import (
	"fmt"
	"net/netip"
	"slices"
)

// Change is what it takes to go from one config to another.
type Change struct {
	Reload  bool           // a reload is needed; the rest is then empty
	Reason  string         // short human reason for the reload, e.g. "backend gateway: line 12 changed"
	Servers []ServerUpdate // runtime API updates that suffice when Reload is false
	Adds    []ServerAdd    // servers to create at runtime
	Deletes []ServerDel    // servers to remove at runtime

	AddBackends []BackendAdd // backends to create at runtime (PlanOptions)
	DelBackends []string     // backends to delete at runtime (PlanOptions)
}

// ServerUpdate is a runtime change to one existing server; it carries the new values.
type ServerUpdate struct {
	Backend string // backend (or listen) section name
	Server  string // server name
	Addr    string // new address (an IP literal)
	Port    int    // new port; 0 when the server line has none
	Weight  int    // new weight; -1 when the server line has none
	State   string // "ready", or "maint" for a disabled server

	AddrChanged   bool // address or port changed
	WeightChanged bool // weight changed
	StateChanged  bool // disabled state changed
}

// Plan compares two configs. Reload is false only when they differ solely in
// their servers: the address, port, weight or disabled state of servers that
// exist in both, or servers added or removed in a backend whose balance
// algorithm takes runtime servers.
func Plan(old, new *Config) Change { return PlanWith(old, new, PlanOptions{}) }

// PlanWith is Plan for an HAProxy that can do what o says at runtime.
func PlanWith(old, new *Config, o PlanOptions) Change {
	if old == nil || new == nil {
		return Change{Reload: true, Reason: "no previous config"}
	}
	oldKeys, newKeys := sectionKeys(old), sectionKeys(new)
	oldSet, newSet := setOf(oldKeys), setOf(newKeys)
	var ch Change
	var added, removed []*Section
	var oldAt, newAt []int // the sections in both, in each file's order
	for i, k := range newKeys {
		if !oldSet[k] {
			added = append(added, new.Sections[i])
		} else {
			newAt = append(newAt, i)
		}
	}
	for i, k := range oldKeys {
		if !newSet[k] {
			removed = append(removed, old.Sections[i])
		} else {
			oldAt = append(oldAt, i)
		}
	}
	if !o.RuntimeBackends {
		if len(added) > 0 {
			return reload("%s: section added", sectionLabel(added[0]))
		}
		if len(removed) > 0 {
			return reload("%s: section removed", sectionLabel(removed[0]))
		}
	} else if why := planBackends(new, added, removed, &ch); why != "" {
		return reload("%s", why)
	}
	for j := range newAt {
		if oldKeys[oldAt[j]] != newKeys[newAt[j]] {
			return reload("sections reordered")
		}
	}
	for j, i := range newAt {
		ns, olds := new.Sections[i], old.Sections[oldAt[j]]
		pair := newServerPair(olds, ns)
		ups, reason := planSection(pair)
		if reason == errMembership {
			adds, dels, why := planMembership(new, pair)
			if why != "" {
				return reload("%s: %s", sectionLabel(ns), why)
			}
			ch.Adds = append(ch.Adds, adds...)
			ch.Deletes = append(ch.Deletes, dels...)
			ups, reason = planServers(pair)
		}
		if reason != "" {
			return reload("%s: %s", sectionLabel(ns), reason)
		}
		ch.Servers = append(ch.Servers, ups...)
	}
	return ch
}

// reload builds a Change that needs a reload.
func reload(format string, args ...any) Change {
	return Change{Reload: true, Reason: fmt.Sprintf(format, args...)}
}

// sectionLabel names a section for humans, e.g. "backend gateway".
func sectionLabel(s *Section) string {
	if s.Name == "" {
		return s.Kind
	}
	return s.Kind + " " + s.Name
}

// sectionKeys identifies each section by kind, name and occurrence.
func sectionKeys(c *Config) []string {
	seen := map[string]int{}
	keys := make([]string, len(c.Sections))
	for i, s := range c.Sections {
		k := s.Kind + " " + s.Name
		seen[k]++
		keys[i] = fmt.Sprintf("%s #%d", k, seen[k])
	}
	return keys
}

// serverPair is one section in two configs, with the names of their
// servers indexed once, so that comparing stays linear at ten thousand.
type serverPair struct {
	old, new           *Section
	oldNames, newNames []string
	oldAt, newAt       map[string]int // server name -> index in Servers
}

func newServerPair(old, new *Section) *serverPair {
	p := &serverPair{old: old, new: new}
	if hasServers(new.Kind) {
		p.oldNames, p.newNames = serverNames(old.Servers), serverNames(new.Servers)
		p.oldAt, p.newAt = indexOf(p.oldNames), indexOf(p.newNames)
	}
	return p
}

// planSection compares one section pair and returns the server updates, or a
// non-empty reason when a reload is needed.
func planSection(p *serverPair) ([]ServerUpdate, string) {
	old, new := p.old, p.new
	if old.Header != new.Header {
		return nil, fmt.Sprintf("header changed to %q", new.Header)
	}
	if r := diffLines(bodyLines(old), bodyLines(new)); r != "" {
		return nil, r
	}
	if !hasServers(new.Kind) {
		return nil, ""
	}
	if len(p.oldAt) != len(p.oldNames) || len(p.newAt) != len(p.newNames) {
		return nil, "duplicate server names"
	}
	if len(p.oldNames) != len(p.newNames) {
		return nil, errMembership
	}
	for _, n := range p.newNames {
		if _, ok := p.oldAt[n]; !ok {
			return nil, errMembership
		}
	}
	if !slices.Equal(p.oldNames, p.newNames) {
		return nil, "servers reordered"
	}
	return planServers(p)
}

// errMembership is planSection's reason when servers were added or removed.
const errMembership = "servers added or removed"

// planServers compares the servers present in both sections.
func planServers(p *serverPair) ([]ServerUpdate, string) {
	var ups []ServerUpdate
	for _, ns := range p.new.Servers {
		i, ok := p.oldAt[ns.Name]
		if !ok {
			continue
		}
		up, changed, reason := planServer(p.new.Name, p.old.Servers[i], ns)
		if reason != "" {
			return nil, fmt.Sprintf("server %s: %s", ns.Name, reason)
		}
		if changed {
			ups = append(ups, up)
		}
	}
	return ups, ""
}

// planServer compares one server; reason is non-empty when it needs a reload.
func planServer(backend string, old, new Server) (up ServerUpdate, changed bool, reason string) {
	if !slices.Equal(old.Rest, new.Rest) {
		return up, false, "options changed"
	}
	up = ServerUpdate{
		Backend: backend, Server: new.Name,
		Addr: new.Addr, Port: new.Port, Weight: new.Weight, State: "ready",
	}
	if new.Disabled {
		up.State = "maint"
	}
	if old.Address != new.Address {
		if _, err := netip.ParseAddr(new.Addr); err != nil {
			return up, false, fmt.Sprintf("address %s is not an IP address", new.Address)
		}
		if (old.Port == 0) != (new.Port == 0) {
			return up, false, "port added or removed"
		}
		up.AddrChanged = true
	}
	if old.Weight != new.Weight {
		if old.Weight < 0 || new.Weight < 0 {
			return up, false, "weight added or removed"
		}
		if new.Weight > 256 {
			return up, false, fmt.Sprintf("weight %d out of runtime range", new.Weight)
		}
		up.WeightChanged = true
	}
	up.StateChanged = old.Disabled != new.Disabled
	return up, up.AddrChanged || up.WeightChanged || up.StateChanged, ""
}

// bodyLines returns a section's lines other than its proxy `server` lines.
func bodyLines(s *Section) []Line {
	if !hasServers(s.Kind) {
		return s.Lines
	}
	out := make([]Line, 0, len(s.Lines))
	for _, l := range s.Lines {
		if firstWord(l.Text) == "server" {
			continue
		}
		out = append(out, l)
	}
	return out
}

// diffLines describes the first difference between two line lists, or "".
// It trims the common head and tail so that an insertion or a deletion is
// reported as such rather than as a change of every following line.
func diffLines(old, new []Line) string {
	head := 0
	for head < len(old) && head < len(new) && old[head].Text == new[head].Text {
		head++
	}
	if head == len(old) && head == len(new) {
		return ""
	}
	oe, ne := len(old), len(new)
	for oe > head && ne > head && old[oe-1].Text == new[ne-1].Text {
		oe--
		ne--
	}
	switch {
	case oe == head:
		return fmt.Sprintf("line %d added: %q", new[head].Num, new[head].Text)
	case ne == head:
		return fmt.Sprintf("line removed: %q", old[head].Text)
	default:
		return fmt.Sprintf("line %d changed: %q", new[head].Num, new[head].Text)
	}
}

// serverNames lists server names in order.
func serverNames(ss []Server) []string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.Name
	}
	return names
}

// indexOf maps each name to its index (the last, for a repeated name).
func indexOf(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}

// setOf makes a set of names, so that comparing server lists stays linear
// at ten thousand servers.
func setOf(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
