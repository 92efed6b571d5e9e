package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// manCommand prints harender(1) in troff, made from the commands' and
// flags' own help; make deb ships it. Hidden: it is for packaging.
func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the man page harender(1)",
		Hidden: true,
		Action: func(c *cli.Context) error {
			app := c.App
			app.Description = manText(app.Description)
			for _, cmd := range app.Commands {
				cmd.Description = manText(cmd.Description)
			}
			page, err := app.ToManWithSection(1)
			if err != nil {
				return withCode(exitConfig, fmt.Errorf("man page: %w", err))
			}
			_, err = fmt.Fprint(app.Writer, page)
			return err
		},
	}
}

// manText undoes --help's three-space indent, which troff would read as
// a line break on every line; lines under "Examples:" keep one space, so
// each stays a line of its own.
func manText(s string) string {
	lines := strings.Split(s, "\n")
	examples := false
	for i, l := range lines {
		l = strings.TrimPrefix(l, "   ")
		if examples && l != "" {
			l = " " + l
		}
		examples = examples || l == "Examples:"
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}
