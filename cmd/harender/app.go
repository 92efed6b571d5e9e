package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/urfave/cli/v2"
)

const appHelp = `harender watches Consul's catalog and renders consul-template-style
   templates into haproxy.cfg. Every candidate is checked with haproxy -c
   before it is swapped in; HAProxy then follows through its runtime API
   (membership changes) or a confirmed hitless reload (everything else).

   Consul is found through --consul-addr or the standard CONSUL_HTTP_ADDR,
   CONSUL_HTTP_TOKEN, CONSUL_HTTP_TOKEN_FILE, CONSUL_CACERT, CONSUL_CLIENT_CERT,
   CONSUL_CLIENT_KEY and CONSUL_TLS_SERVER_NAME. A token is taken from the
   environment or a file, never from a flag, so it never shows in ps.

   Exit codes: 0 ok; 1 differences found (render --dry-run); 2 usage, config
   or template error, or a config HAProxy rejects; 3 Consul or HAProxy could
   not be reached, or a reload could not be confirmed.`

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:                 "harender",
		Version:              version(),
		Usage:                "keep HAProxy in step with Consul, without dropping a request",
		Description:          appHelp,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: false,
		HideHelpCommand:      true,
		ExitErrHandler:       func(*cli.Context, error) {}, // run() maps errors to codes
		Commands: []*cli.Command{
			renderCommand(stderr),
			checkCommand(stderr),
			runCommand(stderr),
			manCommand(),
		},
	}
}

// sourceFlags choose templates, Consul and HAProxy; every command has them.
func sourceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "read the HCL config `FILE`", EnvVars: []string{"HARENDER_CONFIG"}},
		&cli.StringSliceFlag{Name: "template", Aliases: []string{"t"}, Usage: "render template `SRC:DEST` (repeatable; adds to the config file's)", EnvVars: []string{"HARENDER_TEMPLATE"}},
		&cli.StringFlag{Name: "consul-addr", Usage: "Consul HTTP `ADDRESS` (default $CONSUL_HTTP_ADDR, else 127.0.0.1:8500)", EnvVars: []string{"HARENDER_CONSUL_ADDR"}},
		durationFlag("max-stale", 0, "allow reads from any Consul server up to `DURATION` stale"),
		&cli.StringFlag{Name: "consul-token-file", Usage: "read the Consul ACL token from `FILE` (or set CONSUL_HTTP_TOKEN)", EnvVars: []string{"HARENDER_CONSUL_TOKEN_FILE"}},
		&cli.StringFlag{Name: "haproxy-config", Usage: "the destination that is HAProxy's main config `FILE`: only it is checked with haproxy -c and reloaded", EnvVars: []string{"HARENDER_HAPROXY_CONFIG"}},
		&cli.StringFlag{Name: "haproxy-bin", Usage: "HAProxy `BINARY` for haproxy -c (default \"haproxy\")", EnvVars: []string{"HARENDER_HAPROXY_BIN"}},
		&cli.StringFlag{Name: "master-socket", Usage: "HAProxy master CLI socket `PATH` (haproxy -W -S PATH), used to reload", EnvVars: []string{"HARENDER_MASTER_SOCKET"}},
		&cli.StringFlag{Name: "runtime-socket", Usage: "HAProxy runtime API socket `PATH` (stats socket ... level admin)", EnvVars: []string{"HARENDER_RUNTIME_SOCKET"}},
		&cli.StringFlag{Name: "log-level", Usage: "log `LEVEL`: debug, info, warn, error (default info)", EnvVars: []string{"HARENDER_LOG_LEVEL"}},
		&cli.StringFlag{Name: "log-format", Usage: "log `FORMAT`: text or json (default text)", EnvVars: []string{"HARENDER_LOG_FORMAT"}},
	}
}

// loadConfig reads the config file, if any, then applies the flags over it.
func loadConfig(c *cli.Context) (Config, error) {
	cfg := defaultConfig()
	if path := c.String("config"); path != "" {
		p, err := readConfigFile(path)
		if err != nil {
			return cfg, err
		}
		if err := cfg.fromFile(p); err != nil {
			return cfg, err
		}
	}
	for _, s := range c.StringSlice("template") {
		t, err := templateFlag(s)
		if err != nil {
			return cfg, err
		}
		cfg.Templates = append(cfg.Templates, t)
	}
	set(&cfg.Consul.Client.Address, c.String("consul-addr"))
	set(&cfg.HAProxy.Binary, c.String("haproxy-bin"))
	for _, f := range []struct {
		dst  *string
		flag string
	}{
		{&cfg.Consul.Client.TokenFile, "consul-token-file"},
		{&cfg.HAProxy.Config, "haproxy-config"},
		{&cfg.HAProxy.MasterSocket, "master-socket"},
		{&cfg.HAProxy.RuntimeSocket, "runtime-socket"},
	} {
		path, err := absPath(c.String(f.flag))
		if err != nil {
			return cfg, fmt.Errorf("--%s: %w", f.flag, err)
		}
		set(f.dst, path)
	}
	set(&cfg.LogLevel, c.String("log-level"))
	set(&cfg.LogFormat, c.String("log-format"))
	if c.IsSet("max-stale") {
		cfg.Consul.MaxStale = c.Duration("max-stale")
	}
	if err := cfg.finish(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// durationFlag is a flag whose default is shown in --help.
func durationFlag(name string, def time.Duration, usage string) *cli.DurationFlag {
	return &cli.DurationFlag{Name: name, Value: def, Usage: usage, EnvVars: []string{envName(name)}}
}

func envName(flag string) string {
	b := []byte("HARENDER_" + flag)
	for i := range b {
		switch {
		case b[i] == '-':
			b[i] = '_'
		case b[i] >= 'a' && b[i] <= 'z':
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

func usageError(format string, a ...any) error {
	return withCode(exitConfig, fmt.Errorf(format, a...))
}

// version is the module version harender was built at, or "dev".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
