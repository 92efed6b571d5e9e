package haproxy

import (
	"fmt"
	"slices"
)

// BackendAdd is a backend to create at runtime, on a release with
// FeatureRuntimeBackends: `add backend NAME from FROM [guid GUID]`, its
// servers, then `publish backend`.
type BackendAdd struct {
	Name, From, GUID string
	Servers          []ServerAdd
}

// PlanOptions say what the running HAProxy can change without a reload.
type PlanOptions struct {
	// RuntimeBackends: backends may be added and deleted at runtime.
	RuntimeBackends bool
}

// RuntimeBackend says how backend section sec of c is created at runtime,
// or why it cannot be. Runtime backends take every setting from a named
// defaults section, so sec may hold only `server`, `default-server` and
// `guid` lines (dynamic servers get their default-server options spelled
// out), and its defaults must set the mode itself.
func RuntimeBackend(c *Config, sec *Section) (BackendAdd, string) {
	if sec.Kind != "backend" {
		return BackendAdd{}, sec.Kind + " sections are not created at runtime"
	}
	w := splitWords(sec.Header)
	if len(w) != 2 && (len(w) != 4 || w[2] != "from") {
		return BackendAdd{}, "header options other than from"
	}
	d := defaultsFor(c, sec)
	if d == nil || d.Name == "" {
		return BackendAdd{}, "its defaults section has no name"
	}
	if !setsMode(d) {
		return BackendAdd{}, "defaults " + d.Name + " sets no mode"
	}
	if r := dynamicSupport(d); r != "" {
		return BackendAdd{}, r
	}
	b := BackendAdd{Name: sec.Name, From: d.Name}
	for _, l := range sec.Lines {
		lw := splitWords(l.Text)
		switch {
		case lw[0] == "server" || lw[0] == "default-server":
		case lw[0] == "guid" && len(lw) == 2:
			b.GUID = lw[1]
		default:
			return BackendAdd{}, fmt.Sprintf("line %d: %q is not taken from defaults %s", l.Num, lw[0], d.Name)
		}
	}
	for _, s := range sec.Servers {
		if r := dynamicServer(s); r != "" {
			return BackendAdd{}, fmt.Sprintf("server %s: %s", s.Name, r)
		}
		b.Servers = append(b.Servers, serverAdd(c, sec, s))
	}
	if err := CheckWords(b.Name, b.From); err != nil {
		return BackendAdd{}, err.Error()
	}
	if b.GUID != "" {
		if err := CheckWords(b.GUID); err != nil {
			return BackendAdd{}, err.Error()
		}
	}
	return b, ""
}

// setsMode reports whether defaults d has a mode line of its own: `add
// backend` takes no mode inherited through a `from`.
func setsMode(d *Section) bool {
	return slices.ContainsFunc(d.Lines, func(l Line) bool { return firstWord(l.Text) == "mode" })
}

// planBackends puts the backends added and removed between two configs
// in ch, or says why they need a reload.
func planBackends(new *Config, added, removed []*Section, ch *Change) string {
	for _, s := range added {
		if s.Kind != "backend" {
			return sectionLabel(s) + ": section added"
		}
		b, why := RuntimeBackend(new, s)
		if why != "" {
			return fmt.Sprintf("%s added: %s", sectionLabel(s), why)
		}
		ch.AddBackends = append(ch.AddBackends, b)
	}
	for _, s := range removed {
		if s.Kind != "backend" {
			return sectionLabel(s) + ": section removed"
		}
		ch.DelBackends = append(ch.DelBackends, s.Name)
	}
	return ""
}
