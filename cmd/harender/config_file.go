package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// fileConfig is the HCL config file as written. Every key is known: an
// unknown one is an error naming file:line. Durations and perms are strings
// here and are checked in config.go, against the syntax tree's positions.
type fileConfig struct {
	Consul    *consulBlock    `hcl:"consul,block"`
	Serf      *serfBlock      `hcl:"serf,block"`
	Wait      *waitBlock      `hcl:"wait,block"`
	Templates []templateBlock `hcl:"template,block"`
	HAProxy   *haproxyBlock   `hcl:"haproxy,block"`
	Listen    string          `hcl:"listen,optional"`
	LogLevel  string          `hcl:"log_level,optional"`
	LogFormat string          `hcl:"log_format,optional"`
}

type consulBlock struct {
	Address        string `hcl:"address,optional"`
	Token          string `hcl:"token,optional"`
	TokenFile      string `hcl:"token_file,optional"`
	MaxStale       string `hcl:"max_stale,optional"`
	BlockQueryWait string `hcl:"block_query_wait,optional"`
	// Guards against data that would empty HAProxy (watch/keep_last.go,
	// watch/mass_removal.go).
	AllowEmptyService *bool       `hcl:"allow_empty_service,optional"`
	SharedQueries     *bool       `hcl:"shared_queries,optional"`
	MaxRemovalPercent *int        `hcl:"max_removal_percent,optional"`
	RemovalHold       string      `hcl:"removal_hold,optional"`
	SSL               *sslBlock   `hcl:"ssl,block"`
	Retry             *retryBlock `hcl:"retry,block"`
}

// serfBlock is the Serf agent that serfMembers asks. The RPC auth key is
// read from a file, never given inline, so it never shows in the config.
type serfBlock struct {
	RPCAddr     string `hcl:"rpc_addr,optional"`
	RPCAuthFile string `hcl:"rpc_auth_file,optional"`
}

type sslBlock struct {
	Enabled    *bool  `hcl:"enabled,optional"`
	Verify     *bool  `hcl:"verify,optional"`
	CACert     string `hcl:"ca_cert,optional"`
	Cert       string `hcl:"cert,optional"`
	Key        string `hcl:"key,optional"`
	ServerName string `hcl:"server_name,optional"`
}

type retryBlock struct {
	Backoff    string `hcl:"backoff,optional"`
	MaxBackoff string `hcl:"max_backoff,optional"`
}

type waitBlock struct {
	Min string `hcl:"min,optional"`
	Max string `hcl:"max,optional"`
}

type templateBlock struct {
	Source         string            `hcl:"source,optional"`
	Contents       string            `hcl:"contents,optional"`
	Builtin        string            `hcl:"builtin,optional"`
	Params         map[string]string `hcl:"params,optional"`
	Destination    string            `hcl:"destination"`
	Perms          string            `hcl:"perms,optional"`
	Backup         bool              `hcl:"backup,optional"`
	CreateDestDirs *bool             `hcl:"create_dest_dirs,optional"`
	LeftDelim      string            `hcl:"left_delimiter,optional"`
	RightDelim     string            `hcl:"right_delimiter,optional"`
	ErrMissingKey  bool              `hcl:"error_on_missing_key,optional"`
	Command        []string          `hcl:"command,optional"`
	CommandTimeout string            `hcl:"command_timeout,optional"`
	// FunctionDenylist and its old name function_blacklist, as in
	// consul-template: the two lists are joined.
	FunctionDenylist  []string `hcl:"function_denylist,optional"`
	FunctionBlacklist []string `hcl:"function_blacklist,optional"`
	SandboxPath       string   `hcl:"sandbox_path,optional"`
}

type haproxyBlock struct {
	Binary            string `hcl:"binary,optional"`
	Config            string `hcl:"config,optional"`
	MasterSocket      string `hcl:"master_socket,optional"`
	RuntimeSocket     string `hcl:"runtime_socket,optional"`
	Reload            string `hcl:"reload,optional"`
	MinReloadInterval string `hcl:"min_reload_interval,optional"`
	ReconcileInterval string `hcl:"reconcile_interval,optional"`
	ServerStateFile   string `hcl:"server_state_file,optional"`
	Start             bool   `hcl:"start,optional"`
	PIDFile           string `hcl:"pid_file,optional"`
	// For a keepalived pair: see examples/ha.
	VRRPWeightFile    string `hcl:"vrrp_weight_file,optional"`
	VRRPHandoverDelay string `hcl:"vrrp_handover_delay,optional"`
}

// parsedFile is a decoded config file and its syntax tree, kept to point
// errors at the line they are about.
type parsedFile struct {
	fileConfig
	body *hclsyntax.Body
	// dir is the file's directory, absolute; givenDir is the same as the
	// user named it (relative when --config was), for errors.
	dir, givenDir string
}

// path resolves a path in the file against the file's own directory, to
// an absolute path whatever the working directory.
func (p *parsedFile) path(s string) string {
	if s == "" || filepath.IsAbs(s) {
		return s
	}
	return filepath.Join(p.dir, s)
}

// shown is a path in the file as the user would name it: against the
// directory of the config file as the user named it.
func (p *parsedFile) shown(s string) string {
	if s == "" || filepath.IsAbs(s) {
		return s
	}
	return filepath.Join(p.givenDir, s)
}

// command resolves a program: a bare name is looked up in $PATH when it
// runs, a path with a slash is a path like any other.
func (p *parsedFile) command(s string) string {
	if !strings.ContainsRune(s, '/') {
		return s
	}
	return p.path(s)
}

// readConfigFile parses and strictly decodes the HCL file at path.
func readConfigFile(path string) (*parsedFile, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	var pf parsedFile
	if diags := gohcl.DecodeBody(f.Body, nil, &pf.fileConfig); diags.HasErrors() {
		return nil, diagError(diags)
	}
	pf.body = f.Body.(*hclsyntax.Body)
	pf.givenDir = filepath.Dir(path)
	if pf.dir, err = filepath.Abs(pf.givenDir); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &pf, nil
}

// at returns the position of attribute name in the idx-th block of type
// typ, nested along path (e.g. "consul", "retry"); the block itself if the
// attribute is absent.
func (p *parsedFile) at(name string, idx int, path ...string) hcl.Range {
	body := p.body
	rng := hcl.Range{Filename: "", Start: hcl.Pos{Line: 1, Column: 1}}
	if body != nil {
		rng = body.SrcRange
	}
	for depth, typ := range path {
		n := 0
		var next *hclsyntax.Body
		for _, b := range body.Blocks {
			if b.Type != typ {
				continue
			}
			if depth > 0 || n == idx {
				next, rng = b.Body, b.DefRange()
				break
			}
			n++
		}
		if next == nil {
			return rng
		}
		body = next
	}
	if a, ok := body.Attributes[name]; ok {
		return a.SrcRange
	}
	return rng
}

// posError is an error about a place in the config file.
type posError struct {
	rng hcl.Range
	msg string
}

func (e *posError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.rng.Filename, e.rng.Start.Line, e.rng.Start.Column, e.msg)
}

// diagError turns HCL diagnostics into one error, each line file:line:col.
func diagError(diags hcl.Diagnostics) error {
	var errs []error
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			errs = append(errs, &posError{rng: *d.Subject, msg: msg})
		} else {
			errs = append(errs, fmt.Errorf("%s", msg))
		}
	}
	return joinErrors(errs)
}
