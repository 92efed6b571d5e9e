package main

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/harender/harender/watch"
)

// Config is the whole configuration, after the file and the flags.
type Config struct {
	Consul    ConsulConfig
	Serf      SerfConfig
	Wait      WaitConfig
	Templates []TemplateConfig
	HAProxy   HAProxyConfig
	Listen    string
	LogLevel  string
	LogFormat string
}

// ConsulConfig says how to reach Consul and how to query it.
type ConsulConfig struct {
	Client   watch.ClientConfig
	MaxStale time.Duration
	// BlockWait is how long a blocking query waits for a change. Longer
	// means fewer requests at idle; a change still returns at once.
	BlockWait  time.Duration
	Backoff    time.Duration
	MaxBackoff time.Duration
	// AllowEmpty lets a service whose every instance fails its checks
	// render empty; by default the last instances stay.
	AllowEmpty bool
	// MaxRemovalPercent and RemovalHold: a change that removes more than
	// this share of a service's instances (of 4 or more) is held this long.
	MaxRemovalPercent int
	RemovalHold       time.Duration
	// SharedQueries serves every `service` of the default datacenter
	// from a few catalog-wide blocking queries (watch/shared_hub.go).
	// On by default; shared_queries = false gives each its own query.
	SharedQueries bool
}

// SerfConfig is the Serf agent that serfMembers asks: its RPC address
// (default 127.0.0.1:7373) and the file that holds its RPC auth key.
type SerfConfig struct {
	Addr, AuthKeyFile string
}

// WaitConfig is quiescence, as consul-template's wait: Max defaults to 4×Min.
type WaitConfig struct {
	Min, Max time.Duration
}

// TemplateConfig is one template block. Its paths are absolute.
type TemplateConfig struct {
	Source, Contents, Builtin string
	Params                    map[string]string
	Destination               string
	Perms                     uint32
	Backup                    bool
	CreateDestDirs            bool
	LeftDelim, RightDelim     string
	ErrMissingKey             bool
	Command                   []string
	CommandTimeout            time.Duration
	// FunctionDenylist names the functions the template may not call
	// ('*' matches any run); SandboxPath is the directory file and
	// writeToFile must stay in, absolute. As consul-template's.
	FunctionDenylist []string
	SandboxPath      string
	// shown is Source, or Destination for inline contents, as the user
	// wrote it (joined to the config file's directory as given), so that
	// errors read like the command line.
	shown string
}

// Name is how the template is named in errors and logs: its path, or
// builtin:NAME, or the destination for inline contents.
func (t TemplateConfig) Name() string {
	switch {
	case t.Source != "":
		return cmp.Or(t.shown, t.Source)
	case t.Builtin != "":
		return "builtin:" + t.Builtin
	default:
		return cmp.Or(t.shown, t.Destination) + " (contents)"
	}
}

// HAProxyConfig says where HAProxy is and how changes reach it. Its paths
// are absolute.
type HAProxyConfig struct {
	Binary            string
	Config            string
	MasterSocket      string
	RuntimeSocket     string
	Reload            string
	MinReloadInterval time.Duration
	// ReconcileInterval is how often what HAProxy reports is compared with
	// what was rendered; 0 never.
	ReconcileInterval time.Duration
	ServerStateFile   string
	Start             bool
	PIDFile           string
	// VRRPWeightFile is the file keepalived's track_file reads: "0" while
	// HAProxy runs what was applied, "-254" while not (harender run only).
	VRRPWeightFile string
	// VRRPHandoverDelay is how long harender waits, when stopping, between
	// giving up the VIP and stopping the HAProxy it started.
	VRRPHandoverDelay time.Duration
}

// defaultConfig holds the defaults that apply when nothing is set.
func defaultConfig() Config {
	return Config{
		Consul: ConsulConfig{BlockWait: 5 * time.Minute, Backoff: 250 * time.Millisecond, MaxBackoff: 30 * time.Second,
			SharedQueries: true},
		HAProxy: HAProxyConfig{
			Binary:            "haproxy",
			Reload:            "auto",
			MinReloadInterval: time.Second,
			ReconcileInterval: 10 * time.Second,
			VRRPHandoverDelay: time.Second,
		},
		LogLevel:  "info",
		LogFormat: "text",
	}
}

// fromFile applies a parsed config file over c, checking every duration,
// mode and permission against its position in the file.
func (c *Config) fromFile(p *parsedFile) error {
	var errs []error
	dur := func(s string, dst *time.Duration, name string, idx int, path ...string) {
		if s == "" {
			return
		}
		d, err := time.ParseDuration(s)
		if err == nil && d < 0 {
			err = errors.New("must not be negative")
		}
		if err != nil {
			errs = append(errs, &posError{rng: p.at(name, idx, path...), msg: fmt.Sprintf("%s: bad duration %q: %v", name, s, err)})
			return
		}
		*dst = d
	}
	if b := p.Consul; b != nil {
		cl := &c.Consul.Client
		set(&cl.Address, b.Address)
		set(&cl.Token, b.Token)
		set(&cl.TokenFile, p.path(b.TokenFile))
		dur(b.MaxStale, &c.Consul.MaxStale, "max_stale", 0, "consul")
		dur(b.BlockQueryWait, &c.Consul.BlockWait, "block_query_wait", 0, "consul")
		dur(b.RemovalHold, &c.Consul.RemovalHold, "removal_hold", 0, "consul")
		if b.AllowEmptyService != nil {
			c.Consul.AllowEmpty = *b.AllowEmptyService
		}
		if b.SharedQueries != nil {
			c.Consul.SharedQueries = *b.SharedQueries
		}
		if pc := b.MaxRemovalPercent; pc != nil {
			if *pc < 1 || *pc > 100 {
				errs = append(errs, &posError{rng: p.at("max_removal_percent", 0, "consul"),
					msg: fmt.Sprintf("max_removal_percent: %d is not between 1 and 100 (100 turns the rule off)", *pc)})
			} else {
				c.Consul.MaxRemovalPercent = *pc
			}
		}
		if s := b.SSL; s != nil {
			cl.SSL = s.Enabled != nil && *s.Enabled
			cl.InsecureSkipVerify = s.Verify != nil && !*s.Verify
			set(&cl.CAFile, p.path(s.CACert))
			set(&cl.CertFile, p.path(s.Cert))
			set(&cl.KeyFile, p.path(s.Key))
			set(&cl.ServerName, s.ServerName)
		}
		if r := b.Retry; r != nil {
			dur(r.Backoff, &c.Consul.Backoff, "backoff", 0, "consul", "retry")
			dur(r.MaxBackoff, &c.Consul.MaxBackoff, "max_backoff", 0, "consul", "retry")
		}
	}
	if b := p.Serf; b != nil {
		set(&c.Serf.Addr, b.RPCAddr)
		set(&c.Serf.AuthKeyFile, p.path(b.RPCAuthFile))
	}
	if w := p.Wait; w != nil {
		dur(w.Min, &c.Wait.Min, "min", 0, "wait")
		dur(w.Max, &c.Wait.Max, "max", 0, "wait")
	}
	if h := p.HAProxy; h != nil {
		set(&c.HAProxy.Binary, p.command(h.Binary))
		set(&c.HAProxy.Config, p.path(h.Config))
		set(&c.HAProxy.MasterSocket, p.path(h.MasterSocket))
		set(&c.HAProxy.RuntimeSocket, p.path(h.RuntimeSocket))
		set(&c.HAProxy.ServerStateFile, p.path(h.ServerStateFile))
		set(&c.HAProxy.PIDFile, p.path(h.PIDFile))
		set(&c.HAProxy.VRRPWeightFile, p.path(h.VRRPWeightFile))
		c.HAProxy.Start = h.Start
		if h.Reload != "" {
			switch h.Reload {
			case "auto", "always", "never":
				c.HAProxy.Reload = h.Reload
			default:
				errs = append(errs, &posError{rng: p.at("reload", 0, "haproxy"), msg: fmt.Sprintf("reload: %q is not one of auto, always, never", h.Reload)})
			}
		}
		dur(h.MinReloadInterval, &c.HAProxy.MinReloadInterval, "min_reload_interval", 0, "haproxy")
		dur(h.ReconcileInterval, &c.HAProxy.ReconcileInterval, "reconcile_interval", 0, "haproxy")
		dur(h.VRRPHandoverDelay, &c.HAProxy.VRRPHandoverDelay, "vrrp_handover_delay", 0, "haproxy")
	}
	for i, b := range p.Templates {
		t := TemplateConfig{
			Source: b.Source, Contents: b.Contents, Builtin: b.Builtin, Params: b.Params,
			Destination: b.Destination, Backup: b.Backup, CreateDestDirs: true,
			LeftDelim: b.LeftDelim, RightDelim: b.RightDelim, ErrMissingKey: b.ErrMissingKey,
			Command: b.Command,
		}
		if b.CreateDestDirs != nil {
			t.CreateDestDirs = *b.CreateDestDirs
		}
		if b.Perms != "" {
			m, err := strconv.ParseUint(b.Perms, 8, 32)
			if err != nil || m > 0o7777 {
				errs = append(errs, &posError{rng: p.at("perms", i, "template"), msg: fmt.Sprintf("perms: %q is not an octal file mode such as \"0644\"", b.Perms)})
			}
			t.Perms = uint32(m)
		}
		dur(b.CommandTimeout, &t.CommandTimeout, "command_timeout", i, "template")
		for _, l := range []struct {
			attr  string
			names []string
		}{{"function_denylist", b.FunctionDenylist}, {"function_blacklist", b.FunctionBlacklist}} {
			if slices.Contains(l.names, "") {
				errs = append(errs, &posError{rng: p.at(l.attr, i, "template"), msg: l.attr + `: an empty name denies nothing; name a function, such as "plugin", or a pattern, such as "sprig_*"`})
			}
			t.FunctionDenylist = append(t.FunctionDenylist, l.names...)
		}
		t.SandboxPath = p.path(b.SandboxPath)
		if n := countSet(t.Source, t.Contents, t.Builtin); n != 1 {
			errs = append(errs, &posError{rng: p.at("", i, "template"), msg: "template: set exactly one of source, contents or builtin"})
		}
		t.shown = p.shown(cmp.Or(t.Source, t.Destination))
		t.Source, t.Destination = p.path(t.Source), p.path(t.Destination)
		c.Templates = append(c.Templates, t)
	}
	set(&c.Listen, p.Listen)
	set(&c.LogLevel, p.LogLevel)
	set(&c.LogFormat, p.LogFormat)
	return joinErrors(errs)
}

// finish fills derived defaults and checks what the file and the flags
// cannot check alone.
func (c *Config) finish() error {
	if c.Consul.BlockWait > 10*time.Minute {
		return fmt.Errorf("consul block_query_wait %s: Consul waits 10m at most", c.Consul.BlockWait)
	}
	if c.Wait.Max == 0 {
		c.Wait.Max = 4 * c.Wait.Min
	}
	if c.Wait.Max < c.Wait.Min {
		return fmt.Errorf("wait: max (%s) is less than min (%s)", c.Wait.Max, c.Wait.Min)
	}
	if len(c.Templates) == 0 {
		return errors.New("no templates: give --template SRC:DEST or a config file with a template block")
	}
	seen := map[string]bool{}
	for _, t := range c.Templates {
		if seen[t.Destination] {
			return fmt.Errorf("destination %s is written by two templates", t.Destination)
		}
		seen[t.Destination] = true
	}
	if c.HAProxy.Config != "" && !seen[c.HAProxy.Config] {
		return fmt.Errorf("haproxy config %s is not the destination of any template", c.HAProxy.Config)
	}
	if c.HAProxy.Start && (c.HAProxy.Config == "" || c.HAProxy.MasterSocket == "") {
		return errors.New("haproxy start = true needs config and master_socket: harender starts haproxy -W -S MASTER_SOCKET -f CONFIG")
	}
	return nil
}

// templateFlag parses --template SRC:DEST, making both paths absolute.
func templateFlag(s string) (TemplateConfig, error) {
	src, dest, ok := strings.Cut(s, ":")
	if !ok || src == "" || dest == "" {
		return TemplateConfig{}, fmt.Errorf("--template %q: want SRC:DEST", s)
	}
	t := TemplateConfig{shown: src, CreateDestDirs: true}
	var err error
	if t.Source, err = absPath(src); err != nil {
		return t, fmt.Errorf("--template %q: %w", s, err)
	}
	if t.Destination, err = absPath(dest); err != nil {
		return t, fmt.Errorf("--template %q: %w", s, err)
	}
	return t, nil
}

// absPath makes a path from the command line absolute against the working
// directory, so that nothing later depends on where harender was started:
// HAProxy, for one, takes a relative socket path for host:port.
func absPath(s string) (string, error) {
	if s == "" || filepath.IsAbs(s) {
		return s, nil
	}
	return filepath.Abs(s)
}

func set(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func countSet(vs ...string) int {
	n := 0
	for _, v := range vs {
		if v != "" {
			n++
		}
	}
	return n
}

// joinErrors collects several errors into one, or nil.
func joinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	var m *multierror.Error
	m = multierror.Append(m, errs...)
	m.ErrorFormat = func(es []error) string {
		lines := make([]string, len(es))
		for i, e := range es {
			lines[i] = e.Error()
		}
		return strings.Join(lines, "\n")
	}
	return m
}
