// Command tenantkit converts single-tenant PostgreSQL databases into
// multi-tenant ones and keeps them correct. Each subcommand lives in a file
// of its own that parses flags and calls the package doing the work. Only
// this command touches the process's standard streams: it hands the
// packages standard input, standard output and standard error (for progress
// reports, none with --quiet) as io.Reader and io.Writer values.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/internal/fault"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	stderr = wordFlags(stderr) // messages word the libraries' settings as flags
	defer startCPUProfile(stderr)()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		// The first signal cancels the running statement; the open
		// transaction rolls back and the command unwinds. A second one
		// does not wait for that.
		cancel(signalError{sig})
		first := time.Now()
		for range sigs {
			// The same signal sent to the process and to its group arrives
			// twice at once; only a later one means "stop now".
			if time.Since(first) > 2*time.Second {
				fmt.Fprintln(stderr, "tenantkit: second signal, exiting now")
				os.Exit(signalCode(sig))
			}
		}
	}()
	app := newApp(stdin, stdout, stderr)
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	var sig signalError
	if errors.As(context.Cause(ctx), &sig) {
		var ce *fault.CommittedError
		if errors.As(err, &ce) {
			fmt.Fprintf(stderr, "tenantkit: interrupted by %s: the running statement was cancelled and its transaction rolled back; %s\n", sig, ce.What)
		} else {
			fmt.Fprintf(stderr, "tenantkit: interrupted by %s: the running statement was cancelled and the transaction rolled back; nothing was changed\n", sig)
		}
		return signalCode(sig.sig)
	}
	err = classify(err)
	fmt.Fprintf(stderr, "tenantkit: %v\n", err)
	return exitCodeOf(err)
}

// signalError is the cancellation cause of a run stopped by a signal.
type signalError struct{ sig os.Signal }

func (s signalError) Error() string {
	if s.sig == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "SIGINT"
}

func signalCode(sig os.Signal) int {
	if sig == syscall.SIGTERM {
		return exitTerminated
	}
	return exitInterrupt
}

// appDescription is the DESCRIPTION of tenantkit --help and tenantkit(1).
const appDescription = `Connection: --db URL, else DATABASE_URL, else the PG* variables and ~/.pgpass.
Exit codes: 0 done, 1 violations or rejects found, 2 bad usage, input or
configuration (nothing changed), 3 database or internal failure (nothing changed).
--json prints a summary whose shape docs/tenantkit.schema.json describes.`

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                 "tenantkit",
		Usage:                "convert single-tenant PostgreSQL databases into multi-tenant ones and keep them correct",
		Version:              version,
		Description:          appDescription,
		Flags:                append(commonFlags(), schemaFlags()...),
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		OnUsageError:         usageError,
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(c.App.ErrWriter, "tenantkit: unknown command %q (see tenantkit --help)\n", name)
			os.Exit(exitBadInput)
		},
		Commands: commands(),
	}
	for _, c := range app.Commands {
		setUsageErrors(c)
		setHelpLayout(c)
	}
	return app
}

// commands lists every subcommand, in help order.
func commands() []*cli.Command {
	return []*cli.Command{
		schemaCommand(),
		tenantCommand(),
		buildtenantCommand(),
		settenantCommand(),
		extractCommand(),
		tenantExtractCommand(),
		userloadCommand(),
		verifyCommand(),
		aliasesCommand(),
		aclCommand(),
		prepareCommand(),
		convertCommand(),
		distributeCommand(),
		fixturesCommand(),
		versionCommand(),
		manCommand(),
		completionCommand(),
		completeCommand(),
	}
}

func setUsageErrors(c *cli.Command) {
	c.OnUsageError = usageError
	for _, sub := range c.Subcommands {
		setUsageErrors(sub)
	}
}

func usageError(c *cli.Context, err error, isSubcommand bool) error {
	return fault.Usage(err)
}

// classify gives errors the command line knows about their kind: a missing
// required flag is bad usage, a lost connection a failure.
func classify(err error) error {
	// urfave/cli reports missing required flags without OnUsageError.
	if msg := err.Error(); strings.HasPrefix(msg, "Required flag") {
		return fault.Usage(err)
	}
	if lost(err) {
		var ce *fault.CommittedError
		if errors.As(err, &ce) {
			return fault.Failure(fmt.Errorf("lost the database connection (%v); the server rolls back the open transaction; %s", ce.Err, ce.What))
		}
		return fault.Failure(fmt.Errorf("lost the database connection (%v); the server rolls back the open transaction, so nothing was changed", err))
	}
	return err
}

// lost reports whether err means the connection to the server went away
// (a terminated backend, a server shutdown, a broken socket).
func lost(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return true
		}
		return false
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "connection reset by peer")
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print tenantkit's version",
		UsageText: "tenantkit version [--json]",
		Description: `Examples:
   tenantkit version
   tenantkit version --json`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the version as JSON"}},
		Action: func(c *cli.Context) error {
			if e := newEnv(c); e.JSON() {
				return e.PrintJSON(map[string]any{"version": version}, nil)
			}
			_, err := fmt.Fprintf(c.App.Writer, "tenantkit %s\n", version)
			return err
		},
	}
}
