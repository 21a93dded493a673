package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/internal/dbconn"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/runlock"
	"github.com/tenantkit/tenantkit/schema"
)

// commonFlags are accepted both before the command and among its own flags.
// Each call makes new flag values, so the two places never share state.
func commonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "db", Usage: "connection `URL` (default: DATABASE_URL, else the PG* variables)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no progress and no summary"},
		&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON"},
		&cli.StringFlag{Name: "lock-timeout", Usage: "PostgreSQL lock_timeout for the session, e.g. `5s` (default: the server's)"},
		&cli.StringFlag{Name: "statement-timeout", Usage: "PostgreSQL statement_timeout for the session, e.g. `10min` (default: the server's)"},
	}
}

// writeFlags are taken by commands that change the database: they hold the
// run lock while they work.
func writeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "wait", Usage: "queue behind another writing run instead of failing at once"},
	}
}

// schemaFlags are taken by every command that uses the object schema.
func schemaFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "schema", Usage: "object schema overlay `FILE` (default: TENANTKIT_SCHEMA)"},
		&cli.StringFlag{Name: "tenant-column", Usage: "conventional tenant column `NAME` (default: the overlay's, else \"tenant\")"},
		&cli.StringFlag{Name: "db-schema", Usage: "PostgreSQL `SCHEMA` holding the objects (default: the overlay's, else the current schema)"},
	}
}

// withCommon appends the common flags to a command's own.
func withCommon(flags ...cli.Flag) []cli.Flag {
	return append(flags, commonFlags()...)
}

// withSchema appends the common and the object schema flags.
func withSchema(flags ...cli.Flag) []cli.Flag {
	return append(withCommon(flags...), schemaFlags()...)
}

// env gives a command its settings, wherever on the command line they were.
type env struct {
	c      *cli.Context
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

func newEnv(c *cli.Context) *env {
	return &env{c: c, Stdin: c.App.Reader, Stdout: c.App.Writer, Stderr: c.App.ErrWriter}
}

// isSet finds the innermost context where the flag was given.
func (e *env) lookup(name string) (*cli.Context, bool) {
	for _, cc := range e.c.Lineage() {
		for _, n := range cc.LocalFlagNames() {
			if n == name {
				return cc, true
			}
		}
	}
	return nil, false
}

// String is a string flag given here or before the command.
func (e *env) String(name string) string {
	if cc, ok := e.lookup(name); ok {
		return cc.String(name)
	}
	return ""
}

// Bool is a boolean flag given here or before the command.
func (e *env) Bool(name string) bool {
	if cc, ok := e.lookup(name); ok {
		return cc.Bool(name)
	}
	return false
}

// Quiet reports --quiet.
func (e *env) Quiet() bool { return e.Bool("quiet") }

// Progress is where a command reports its progress: standard error (a bar
// when it is a terminal), nil (nothing) with --quiet.
func (e *env) Progress() io.Writer {
	if e.Quiet() {
		return nil
	}
	return e.Stderr
}

// JSON reports --json.
func (e *env) JSON() bool { return e.Bool("json") }

// Pool connects to the database; a failure is exit 3.
func (e *env) Pool() (*pgxpool.Pool, error) {
	sess := dbconn.Session{
		App:              strings.TrimSpace("tenantkit " + strings.Join(e.commandPath(), " ")),
		LockTimeout:      e.String("lock-timeout"),
		StatementTimeout: e.String("statement-timeout"),
	}
	pool, err := dbconn.Open(e.c.Context, dbconn.Resolve(e.String("db")), sess)
	if err != nil {
		return nil, fault.Failure(err)
	}
	return pool, nil
}

// commandPath names the running (sub)command, e.g. ["acl", "apply"].
func (e *env) commandPath() []string {
	var names []string
	for _, cc := range e.c.Lineage() {
		if cc.Command != nil && cc.Command.Name != "" && cc.Command.Name != e.c.App.Name {
			names = append([]string{cc.Command.Name}, names...)
		}
	}
	return names
}

// Lock takes the run lock that serializes writing commands (see --wait).
func (e *env) Lock(pool *pgxpool.Pool) (*runlock.Lock, error) {
	wait := e.c.Bool("wait")
	l, err := runlock.Acquire(e.c.Context, pool, wait, func(h runlock.Holder) {
		if !e.Quiet() {
			fmt.Fprintf(e.Stderr, "tenantkit: waiting for the run lock held by server process %d (%s); "+
				"a killed client's server process keeps it until it notices the lost connection\n", h.PID, h.App)
		}
	})
	if err != nil {
		return nil, fault.Failure(err)
	}
	return l, nil
}

// writeAction is schemaAction for commands that change the database: it
// also holds the run lock for the whole run, unless --check asks for a run
// that changes nothing (those, like read-only commands, take no lock).
func writeAction(fn func(e *env, pool *pgxpool.Pool, s *schema.Schema) error) cli.ActionFunc {
	return schemaAction(func(e *env, pool *pgxpool.Pool, s *schema.Schema) error {
		if e.c.Bool("check") {
			return fn(e, pool, s)
		}
		l, err := e.Lock(pool)
		if err != nil {
			return err
		}
		defer l.Release()
		e.c.Context = runlock.With(e.c.Context, l) // the work runs in the session holding the lock
		return fn(e, pool, s)
	})
}

// SchemaOptions are the object schema settings.
func (e *env) SchemaOptions() schema.Options {
	overlay := e.String("schema")
	if overlay == "" {
		overlay = os.Getenv("TENANTKIT_SCHEMA")
	}
	return schema.Options{Overlay: overlay, TenantColumn: e.String("tenant-column"), DBSchema: e.String("db-schema")}
}

// Schema loads the object schema.
func (e *env) Schema(q schema.Querier) (*schema.Schema, error) {
	return schema.Load(e.c.Context, q, e.SchemaOptions())
}

// JSONSchemaVersion is the version of the --json shape that
// docs/tenantkit.schema.json describes. It changes only when a member is
// removed or changes meaning; new members keep the version.
const JSONSchemaVersion = 1

// errViolations marks a --json summary of a run that found violations or
// rejects (exit 1) as not ok.
var errViolations = errors.New("violations found")

// nonNil makes a nil slice an empty one, so that --json prints [] rather
// than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// PrintJSON writes the summary of a run on stdout (see writeJSON).
func (e *env) PrintJSON(v any, runErr error) error {
	return e.writeJSON(wordFlags(e.Stdout), v, runErr) // messages in it word settings as flags
}

// PrintJSONList writes a listing on stdout: list goes under key.
func (e *env) PrintJSONList(key string, list any, runErr error) error {
	return e.writeJSON(wordFlags(e.Stdout), map[string]any{key: list}, runErr)
}

// writeJSON writes v, a JSON object, as the --json output of the running
// command: the envelope members schema_version, command (the command path,
// e.g. "acl apply") and ok (false when the run ended with runErr: exit 1 or
// a stopped run) come first, then v's own members, indented.
func (e *env) writeJSON(w io.Writer, v any, runErr error) error {
	var enc bytes.Buffer
	je := json.NewEncoder(&enc)
	je.SetEscapeHTML(false) // "->" stays readable
	if err := je.Encode(v); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	body := bytes.TrimSpace(enc.Bytes())
	if len(body) < 2 || body[0] != '{' {
		return fmt.Errorf("--json: the summary of %s is not a JSON object", strings.Join(e.commandPath(), " "))
	}
	head, err := json.Marshal(struct {
		SchemaVersion int    `json:"schema_version"`
		Command       string `json:"command"`
		OK            bool   `json:"ok"`
	}{JSONSchemaVersion, strings.Join(e.commandPath(), " "), runErr == nil})
	if err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	var buf bytes.Buffer
	buf.Write(head[:len(head)-1])
	if len(body) > 2 {
		buf.WriteByte(',')
	}
	buf.Write(body[1:])
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// splitList splits comma-separated flag values, dropping empty items.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// dbAction wraps an action that needs the database: it connects (a failure
// is exit 3) and closes the pool afterwards.
func dbAction(fn func(e *env, pool *pgxpool.Pool) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		e := newEnv(c)
		pool, err := e.Pool()
		if err != nil {
			return err
		}
		defer pool.Close()
		return fn(e, pool)
	}
}

// schemaAction is dbAction for actions that also need the object schema.
func schemaAction(fn func(e *env, pool *pgxpool.Pool, s *schema.Schema) error) cli.ActionFunc {
	return dbAction(func(e *env, pool *pgxpool.Pool) error {
		s, err := e.Schema(pool)
		if err != nil {
			return err
		}
		return fn(e, pool, s)
	})
}
