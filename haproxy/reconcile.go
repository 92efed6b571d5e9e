package haproxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
)

// StepKind is what a runtime step does.
type StepKind int

const (
	StepSetState  StepKind = iota // set server B/S state ready|maint
	StepSetAddr                   // set server B/S addr A port P
	StepSetWeight                 // set server B/S weight W
	StepAdd                       // add server, then enable health and server
	StepDelete                    // disable server, then del server
)

// Step is one runtime API change to one server.
type Step struct {
	Kind            StepKind
	Backend, Server string
	Addr            string    // StepSetAddr
	Port            int       // StepSetAddr; 0 keeps the port
	Weight          int       // StepSetWeight
	State           string    // StepSetState: "ready" or "maint"
	Add             ServerAdd // StepAdd
}

// Name is backend/server.
func (s Step) Name() string { return s.Backend + "/" + s.Server }

// String describes the step for logs.
func (s Step) String() string {
	switch s.Kind {
	case StepSetState:
		return "set " + s.Name() + " state " + s.State
	case StepSetAddr:
		return fmt.Sprintf("set %s addr %s port %d", s.Name(), s.Addr, s.Port)
	case StepSetWeight:
		return fmt.Sprintf("set %s weight %d", s.Name(), s.Weight)
	case StepAdd:
		return "add " + s.Name() + " " + s.Add.Address
	case StepDelete:
		return "del " + s.Name()
	}
	return "unknown step"
}

// Reconcile compares the servers that cfg declares with the servers that
// HAProxy reports, and returns the runtime steps that make HAProxy match:
// state and address and weight fixes first (disabling before, enabling
// after), then additions, then removals. Only backends that HAProxy
// reports are compared; a backend it lacks needs a reload, which the
// caller finds by comparing configs. reason is non-empty when a difference
// can only be fixed by a reload.
func Reconcile(cfg *Config, obs *ServersState) (steps []Step, reason string) {
	have := map[string]map[string]*ServerState{}
	for i := range obs.Servers {
		s := &obs.Servers[i]
		if have[s.Backend] == nil {
			have[s.Backend] = map[string]*ServerState{}
		}
		have[s.Backend][s.Server] = s
	}
	var disable, fix, enable, adds, dels []Step
	for _, sec := range cfg.Sections {
		if !hasServers(sec.Kind) {
			continue
		}
		got, ok := have[sec.Name]
		if !ok {
			continue
		}
		want := make(map[string]bool, len(sec.Servers))
		for _, s := range sec.Servers {
			want[s.Name] = true
			o := got[s.Name]
			if o == nil {
				if r := dynamicSupport(sec); r != "" {
					return nil, fmt.Sprintf("backend %s: %s", sec.Name, r)
				}
				if r := dynamicServer(s); r != "" {
					return nil, fmt.Sprintf("server %s/%s: %s", sec.Name, s.Name, r)
				}
				adds = append(adds, Step{Kind: StepAdd, Backend: sec.Name, Server: s.Name, Add: serverAdd(cfg, sec, s)})
				continue
			}
			st, r := serverSteps(sec.Name, s, o)
			if r != "" {
				return nil, r
			}
			for _, x := range st {
				switch {
				case x.Kind == StepSetState && x.State == "maint":
					disable = append(disable, x)
				case x.Kind == StepSetState:
					enable = append(enable, x)
				default:
					fix = append(fix, x)
				}
			}
		}
		var gone []string
		for name := range got {
			if !want[name] {
				gone = append(gone, name)
			}
		}
		slices.Sort(gone)
		for _, name := range gone {
			dels = append(dels, Step{Kind: StepDelete, Backend: sec.Name, Server: name})
		}
	}
	steps = slices.Concat(disable, fix, enable, adds, dels)
	return steps, ""
}

// serverSteps compares one declared server with what HAProxy reports.
func serverSteps(backend string, s Server, o *ServerState) ([]Step, string) {
	var steps []Step
	if s.Disabled && !o.Maint() {
		steps = append(steps, Step{Kind: StepSetState, Backend: backend, Server: s.Name, State: "maint"})
	}
	if o.Addr != s.Addr || (s.Port != 0 && o.Port != s.Port) {
		if _, err := netip.ParseAddr(s.Addr); err != nil {
			return nil, fmt.Sprintf("server %s/%s: address %s is not an IP address", backend, s.Name, s.Address)
		}
		steps = append(steps, Step{Kind: StepSetAddr, Backend: backend, Server: s.Name, Addr: s.Addr, Port: s.Port})
	}
	want := s.Weight
	if want < 0 {
		want = o.IWeight
	}
	if o.UWeight != want {
		if want > 256 {
			return nil, fmt.Sprintf("server %s/%s: weight %d out of runtime range", backend, s.Name, want)
		}
		steps = append(steps, Step{Kind: StepSetWeight, Backend: backend, Server: s.Name, Weight: want})
	}
	if !s.Disabled && o.AdminState&(AdminForcedMaint|AdminForcedDrain) != 0 {
		steps = append(steps, Step{Kind: StepSetState, Backend: backend, Server: s.Name, State: "ready"})
	}
	return steps, ""
}

// serverAdd is the `add server` for a declared server, with the
// default-server options it would inherit from the config.
func serverAdd(c *Config, sec *Section, s Server) ServerAdd {
	args := append(defaultServerArgs(c, sec), s.Rest...)
	if s.Weight >= 0 {
		args = append(args, "weight", strconv.Itoa(s.Weight))
	}
	return ServerAdd{
		Backend: sec.Name, Server: s.Name, Address: s.Address, Args: args,
		Check: slices.Contains(args, "check"), Disabled: s.Disabled,
	}
}
