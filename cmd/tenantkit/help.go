package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// commandHelpTemplate lays out a command's --help: the synopsis, the
// examples, the description and then the options, so that the shape of a
// command and a few real command lines come before its long option list.
// EXAMPLES is filled in per command by setHelpLayout.
const commandHelpTemplate = `NAME:
   {{template "helpNameTemplate" .}}

USAGE:
   {{template "usageTemplate" .}}
@EXAMPLES@{{if .Description}}
DESCRIPTION:
   {{template "descriptionTemplate" .}}
{{end}}{{if .VisibleCommands}}
COMMANDS:{{template "visibleCommandCategoryTemplate" .}}
{{end}}{{if .VisibleFlagCategories}}
OPTIONS:{{template "visibleFlagCategoryTemplate" .}}{{else if .VisibleFlags}}
OPTIONS:{{template "visibleFlagTemplate" .}}{{end}}
`

// setHelpLayout gives c and its subcommands the help layout of
// commandHelpTemplate: the "Examples:" (or "Example:") block that ends a
// description moves up to an EXAMPLES section after USAGE.
func setHelpLayout(c *cli.Command) {
	desc, examples := splitExamples(c.Description)
	section := ""
	if examples != "" {
		// The examples are text, not template: protect any delimiters.
		examples = strings.ReplaceAll(examples, "{{", `{{"{{"}}`)
		section = "\nEXAMPLES:\n" + examples + "\n"
	}
	c.Description = desc
	c.HideHelpCommand = true // --help is the way; "help" would list as a subcommand
	c.CustomHelpTemplate = strings.Replace(commandHelpTemplate, "@EXAMPLES@", section, 1)
	for _, sub := range c.Subcommands {
		setHelpLayout(sub)
	}
}

// splitExamples splits a description at its "Examples:" (or "Example:")
// line: the text before it, and the example lines after it, each indented
// by three spaces.
func splitExamples(desc string) (rest, examples string) {
	lines := strings.Split(desc, "\n")
	for i, l := range lines {
		if t := strings.TrimSpace(l); t != "Examples:" && t != "Example:" {
			continue
		}
		var ex []string
		for _, e := range lines[i+1:] {
			if strings.TrimSpace(e) == "" {
				continue
			}
			ex = append(ex, "   "+strings.TrimSpace(e))
		}
		return strings.TrimRight(strings.Join(lines[:i], "\n"), "\n "), strings.Join(ex, "\n")
	}
	return desc, ""
}
