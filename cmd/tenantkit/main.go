// Command tenantkit converts single-tenant PostgreSQL databases into
// multi-tenant ones and keeps them correct. Each subcommand lives in a file
// of its own that parses flags and calls the package doing the work.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/exit"
	"github.com/tenantkit/tenantkit/internal/xmlnode"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	defer startCPUProfile(stderr)()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, args)
	if err == nil {
		return exit.OK
	}
	err = classify(err)
	fmt.Fprintf(stderr, "tenantkit: %v\n", err)
	return exit.Code(err)
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "tenantkit",
		Usage:   "convert single-tenant PostgreSQL databases into multi-tenant ones and keep them correct",
		Version: version,
		Description: `Connection: --db URL, else DATABASE_URL, else the PG* variables and ~/.pgpass.
Exit codes: 0 done, 1 violations or rejects found, 2 bad usage, input or
configuration (nothing changed), 3 database or internal failure (nothing changed).`,
		Flags:                append(commonFlags(), schemaFlags()...),
		Writer:               stdout,
		ErrWriter:            stderr,
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		OnUsageError:         usageError,
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(c.App.ErrWriter, "tenantkit: unknown command %q (see tenantkit --help)\n", name)
			os.Exit(exit.BadInput)
		},
		Commands: commands(),
	}
	for _, c := range app.Commands {
		setUsageErrors(c)
	}
	return app
}

// commands lists every subcommand, in help order.
func commands() []*cli.Command {
	return []*cli.Command{
		schemaCommand(),
		aclCommand(),
		convertCommand(),
		fixturesCommand(),
		versionCommand(),
	}
}

func setUsageErrors(c *cli.Command) {
	c.OnUsageError = usageError
	for _, sub := range c.Subcommands {
		setUsageErrors(sub)
	}
}

func usageError(c *cli.Context, err error, isSubcommand bool) error {
	return exit.Usage(err)
}

// classify gives errors from the parsers their exit code: a malformed file
// or configuration is bad input.
func classify(err error) error {
	var xe *xmlnode.Error
	var se *datafile.SyntaxError
	if errors.As(err, &xe) || errors.As(err, &se) {
		return exit.Usage(err)
	}
	if errors.Is(err, context.Canceled) {
		return &exit.Error{Code: exit.Interrupt, Err: errors.New("interrupted; the transaction was rolled back")}
	}
	return err
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print tenantkit's version",
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintf(c.App.Writer, "tenantkit %s\n", version)
			return err
		},
	}
}
