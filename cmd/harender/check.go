package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/harender/harender/watch"
)

func checkCommand(stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "check the config file and every template; needs no Consul and no HAProxy",
		UsageText: "harender check [--config FILE | --template SRC:DEST ...]",
		Description: `Parses the config file and every template it names, then exits: 0 when
   all is well, 2 with file:line:col and the cause of each error otherwise.
   Use it in CI before shipping a template change.

Examples:
   harender check --config /etc/harender/harender.hcl
   harender check -t templates/haproxy.cfg.tmpl:/tmp/haproxy.cfg`,
		Flags: sourceFlags(),
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return withCode(exitConfig, err)
			}
			jobs, err := parseTemplates(cfg)
			if err != nil {
				return withCode(exitConfig, err)
			}
			// A dry execution with no data catches what parsing cannot, such
			// as a built-in template's missing param; errors that only mean
			// "no data yet" are not reported. It runs no program (plugin):
			// check needs nothing and changes nothing.
			for _, j := range jobs {
				j.tmpl = j.tmpl.WithNoExec()
			}
			if _, err := renderAll(jobs, noData{}); err != nil {
				return withCode(exitConfig, err)
			}
			fmt.Fprintf(c.App.Writer, "ok: %d template(s)\n", len(jobs))
			return nil
		},
	}
}

// noData is a Recaller with no data at all.
type noData struct{}

func (noData) Get(watch.Dependency) (any, bool) { return nil, false }
