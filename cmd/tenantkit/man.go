package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/internal/fault"
)

func manCommand() *cli.Command {
	return &cli.Command{
		Name:      "man",
		Usage:     "write the section-1 man pages",
		UsageText: "tenantkit man [-o DIR]",
		Description: `Without -o, prints tenantkit(1): every command with its flags. With -o DIR,
writes DIR/tenantkit.1 and one page per command, DIR/tenantkit-COMMAND.1
(tenantkit-userload.1, …), creating DIR if need be.

Examples:
   tenantkit man | man -l -
   sudo tenantkit man -o /usr/local/share/man/man1 && sudo mandb -q
   tenantkit man -o ~/.local/share/man/man1 && man tenantkit-userload`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the pages into directory `DIR` instead of printing tenantkit.1"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fault.Usagef("man takes no arguments (got %q)", c.Args().First())
			}
			pages, err := manPages()
			if err != nil {
				return err
			}
			dir := c.String("output")
			if dir == "" {
				_, err := fmt.Fprint(c.App.Writer, pages["tenantkit.1"])
				return err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fault.Usage(fmt.Errorf("man: %w", err))
			}
			for name, page := range pages {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(page), 0o644); err != nil {
					return fault.Usage(fmt.Errorf("man: %w", err))
				}
			}
			if !newEnv(c).Quiet() {
				fmt.Fprintf(c.App.ErrWriter, "wrote %d man pages to %s\n", len(pages), dir)
			}
			return nil
		},
	}
}

// manPages renders the man pages by file name: tenantkit.1 for the whole
// program and tenantkit-COMMAND.1 for each command. They come from the
// commands' definitions (with the examples left in the descriptions).
func manPages() (map[string]string, error) {
	cmds := visible(commands())
	manDescriptions(cmds)
	root := manApp("tenantkit", "convert single-tenant PostgreSQL databases into multi-tenant ones and keep them correct",
		appDescription, append(commonFlags(), schemaFlags()...), cmds)
	pages := map[string]string{}
	page, err := root.ToManWithSection(1)
	if err != nil {
		return nil, fmt.Errorf("man: tenantkit.1: %w", err)
	}
	pages["tenantkit.1"] = page
	for _, cmd := range cmds {
		app := manApp("tenantkit-"+cmd.Name, cmd.Usage, cmd.Description, cmd.Flags, visible(cmd.Subcommands))
		app.UsageText = cmd.UsageText
		page, err := app.ToManWithSection(1)
		if err != nil {
			return nil, fmt.Errorf("man: tenantkit-%s.1: %w", cmd.Name, err)
		}
		// A command's flags are its options, not global ones.
		pages["tenantkit-"+cmd.Name+".1"] = strings.Replace(page, ".SH GLOBAL OPTIONS", ".SH OPTIONS", 1)
	}
	return pages, nil
}

func manApp(name, usage, desc string, flags []cli.Flag, cmds []*cli.Command) *cli.App {
	return &cli.App{Name: name, Usage: usage, Description: desc, Flags: flags, Commands: cmds, HideHelp: true, HideHelpCommand: true}
}

// visible drops the hidden commands (the completion back end).
func visible(cmds []*cli.Command) []*cli.Command {
	var out []*cli.Command
	for _, c := range cmds {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

// manDescriptions makes the indented blocks of the commands' descriptions
// (examples, file samples, check lists) preformatted text: the pages are
// rendered from Markdown, which would otherwise join their lines.
func manDescriptions(cmds []*cli.Command) {
	for _, c := range cmds {
		var out []string
		inBlock := false
		for _, l := range strings.Split(c.Description, "\n") {
			block := strings.HasPrefix(l, "  ") && strings.TrimSpace(l) != ""
			if block && !inBlock && len(out) > 0 && out[len(out)-1] != "" {
				out = append(out, "")
			}
			if !block && inBlock && strings.TrimSpace(l) != "" {
				out = append(out, "")
			}
			if block {
				l = "    " + l
			}
			out = append(out, l)
			inBlock = block
		}
		c.Description = strings.Join(out, "\n")
		manDescriptions(c.Subcommands)
	}
}
