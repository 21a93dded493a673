// Package aliases publishes per-tenant read-only views, driven by an alias
// file: for each account of the file, a login role and a schema of the same
// name holding one security-barrier view per published table or view (every
// tenanted table unless Options.Objects says otherwise), filtered to the
// account's tenants and the public rows, readable by that login only. Every
// alias login is a member of AliasLoginRole, which acl's row policies
// restrict; with Options.LockDown a run also revokes from PUBLIC what alias
// logins must not have through it (TEMPORARY, CONNECT on other databases).
//
// Everything tenantkit creates is marked with a comment starting "managed by
// tenantkit aliases", so that later runs recognise it: views no longer wanted
// are dropped, schemas of accounts gone from the file are emptied and their
// logins disabled, and objects tenantkit did not create are never touched.
// A run is one transaction; a rerun with the same file changes nothing.
package aliases

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/runlock"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// Options control a run.
type Options struct {
	// Schema says where the object schema comes from. The alias file's
	// gim-user-schema, when given, is the PostgreSQL schema.
	Schema schema.Options
	// Objects are object, table or view names or shell patterns to publish;
	// nil publishes every tenanted table.
	Objects []string
	// Prefix is put before each view's name.
	Prefix string
	// IncludeSubtenants adds the descendants of each account's tenants.
	IncludeSubtenants bool
	// Check plans without changing anything.
	Check bool
	// Repin accepts tenant names that now name other keys than when a run
	// last pinned them (see tenant.CheckPins); without it such names stop
	// the run.
	Repin bool
	// LockDown revokes from PUBLIC what alias logins must not have through
	// it: TEMPORARY on this database, and CONNECT on LockDownDBs; login
	// roles other than alias logins that had them through PUBLIC get them
	// by grants of their own. Without it a run warns about what is open.
	LockDown    bool
	LockDownDBs []string
	// Log receives one line per step as it runs ("Creating view …"), or per
	// planned step with Check; nil for none.
	Log io.Writer
}

// Step is one change a run makes. Its SQL is kept unexported: it may carry a
// password verifier and is never printed.
type Step struct {
	Verb   string `json:"action"` // create, replace, drop, set, reset, grant, revoke, enable, disable, register, release, repin
	Kind   string `json:"object"` // role, schema, view, tenant, database
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name"`
	Detail string `json:"detail,omitempty"`

	sql []string
	// grantee, for view steps: afterwards, the view's only privilege is
	// SELECT for this role.
	grantee string
}

var participles = map[string]string{
	"create": "Creating", "replace": "Replacing", "drop": "Dropping", "set": "Setting", "reset": "Resetting",
	"grant": "Granting", "revoke": "Revoking", "enable": "Enabling", "disable": "Disabling", "register": "Registering", "release": "Releasing",
	"repin": "Re-pinning", "scope": "Scoping",
}

func (s Step) object() string {
	var b strings.Builder
	switch s.Kind {
	case "view":
		fmt.Fprintf(&b, "view %s in tenant schema %s", s.Name, s.Schema)
	case "schema":
		fmt.Fprintf(&b, "tenant schema %s", s.Name)
	case "database":
		fmt.Fprintf(&b, "privileges on database %s", s.Name)
	default:
		fmt.Fprintf(&b, "%s %s", s.Kind, s.Name)
	}
	if s.Detail != "" {
		fmt.Fprintf(&b, " (%s)", s.Detail)
	}
	return b.String()
}

// String is the step as a log line: "Creating view call_req in tenant
// schema acme_ro".
func (s Step) String() string { return participles[s.Verb] + " " + s.object() }

// Planned is the step as a plan line: "would create view …".
func (s Step) Planned() string { return "would " + s.Verb + " " + s.object() }

// Result says what a run did, or with Check would do.
type Result struct {
	SourceSchema string   `json:"source_schema"`
	Accounts     int      `json:"accounts"`
	Views        int      `json:"views"` // views wanted over all accounts
	Unchanged    int      `json:"views_unchanged"`
	Steps        []Step   `json:"steps"`
	Warnings     []string `json:"warnings,omitempty"`
	Checked      bool     `json:"check"`
	LockedDown   bool     `json:"locked_down,omitempty"` // with LockDown: afterwards, nothing is left to lock down
}

// Count returns how many steps have the verb and kind.
func (r *Result) Count(verb, kind string) int {
	n := 0
	for _, s := range r.Steps {
		if s.Verb == verb && s.Kind == kind {
			n++
		}
	}
	return n
}

// Summary is a one-line account of the run.
func (r *Result) Summary() string {
	if len(r.Steps) == 0 {
		locked := ""
		if r.LockedDown {
			locked = ", database privileges locked down"
		}
		return fmt.Sprintf("nothing to change: %s, %s up to date%s", plural(r.Accounts, "account", "accounts"), plural(r.Unchanged, "view", "views"), locked)
	}
	var parts []string
	known := 0
	for _, c := range []struct{ verb, kind, one, many string }{
		{"create", "role", "role created", "roles created"}, {"create", "schema", "schema created", "schemas created"},
		{"create", "view", "view created", "views created"}, {"replace", "view", "view replaced", "views replaced"},
		{"drop", "view", "view dropped", "views dropped"}, {"disable", "role", "login disabled", "logins disabled"},
	} {
		if n := r.Count(c.verb, c.kind); n > 0 {
			parts = append(parts, plural(n, c.one, c.many))
			known += n
		}
	}
	if other := len(r.Steps) - known; other > 0 {
		parts = append(parts, plural(other, "other change", "other changes"))
	}
	parts = append(parts, plural(r.Unchanged, "view unchanged", "views unchanged"))
	if r.Checked {
		return "check only, nothing changed; would make: " + strings.Join(parts, ", ")
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Run brings the database in line with the alias file, in one transaction.
// The caller serialises writing runs (the command holds tenantkit's run
// lock).
// Errors in the file or the options are exit-2 errors (*fault.PosError for
// those with a position in the file); database failures are exit-3 errors, after which
// nothing has changed.
func Run(ctx context.Context, pool *pgxpool.Pool, f *File, opts Options) (*Result, error) {
	conn, release, err := runlock.Session(ctx, pool) // the session holding the run lock
	if err != nil {
		return nil, fault.Failure(fmt.Errorf("aliases: connecting: %w", err))
	}
	defer release()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return nil, fault.Failure(fmt.Errorf("aliases: starting the transaction: %w", err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	p, err := newPlanner(ctx, tx, f, opts)
	if err != nil {
		return nil, err
	}
	repins, err := p.checkPins(ctx)
	if err != nil {
		return nil, err
	}
	res, err := p.plan(ctx)
	if err != nil {
		return nil, err
	}
	res.Steps = append(repins, res.Steps...)
	if opts.Check {
		for _, s := range res.Steps {
			logf(opts.Log, "%s\n", s.Planned())
		}
		return res, nil
	}
	for _, s := range res.Steps {
		logf(opts.Log, "%s\n", s)
		if err := apply(ctx, tx, s); err != nil {
			return nil, fault.Failure(fmt.Errorf("aliases: %s %s: %w%s (rolled back, nothing changed)", s.Verb, s.object(), err, detail(err)))
		}
	}
	if err := tenant.SavePins(ctx, tx, p.pins, "aliases"); err != nil {
		return nil, fault.Failure(fmt.Errorf("aliases: %w (rolled back, nothing changed)", err))
	}
	readers, err := p.directReaders(ctx)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, readers...)
	if err := tx.Commit(ctx); err != nil {
		return nil, fault.Failure(fmt.Errorf("aliases: committing: %w", err))
	}
	return res, nil
}

// detail is the server's detail line of err, such as which objects depend
// on a view that cannot be dropped.
func detail(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Detail != "" {
		return ": " + pe.Detail
	}
	return ""
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}

// apply runs a step's statements, then leaves SELECT for the grantee as the
// only privilege on a view the step made.
func apply(ctx context.Context, tx pgx.Tx, s Step) error {
	for _, sql := range s.sql {
		if _, err := tx.Exec(ctx, sql); err != nil {
			return err
		}
	}
	if s.Kind == "view" && s.grantee != "" {
		return onlySelectFor(ctx, tx, pgx.Identifier{s.Schema, s.Name}, s.grantee)
	}
	return nil
}

// viewGranteesSQL lists the roles other than its owner holding privileges
// on a relation or its columns (PUBLIC as grantee 0), and whether a role's
// only privilege is a plain SELECT on the whole relation.
const viewGranteesSQL = `
SELECT a.grantee = 0, coalesce(r.rolname, ''),
       bool_and(a.col IS NULL AND a.privilege_type = 'SELECT' AND NOT a.is_grantable)
FROM (SELECT x.grantee, x.privilege_type, x.is_grantable, NULL::name AS col
      FROM pg_class c, aclexplode(c.relacl) x
      WHERE c.oid = $1::regclass AND x.grantee <> c.relowner
      UNION ALL
      SELECT x.grantee, x.privilege_type, x.is_grantable, att.attname
      FROM pg_class c JOIN pg_attribute att ON att.attrelid = c.oid, aclexplode(att.attacl) x
      WHERE c.oid = $1::regclass AND att.attacl IS NOT NULL AND x.grantee <> c.relowner) a
LEFT JOIN pg_roles r ON r.oid = a.grantee
GROUP BY 1, 2`

// onlySelectFor revokes every privilege on view, and on its columns, other
// than the owner's and the grantee's plain SELECT (default privileges, a
// hand-made grant or another tool may have added some), and grants that
// SELECT.
func onlySelectFor(ctx context.Context, tx pgx.Tx, view pgx.Identifier, grantee string) error {
	rows, err := tx.Query(ctx, viewGranteesSQL, sqlq.Ident(view...))
	if err != nil {
		return err
	}
	type holder struct {
		public     bool
		role       string
		onlySelect bool
	}
	holders, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (holder, error) {
		var h holder
		return h, r.Scan(&h.public, &h.role, &h.onlySelect)
	})
	if err != nil {
		return err
	}
	hasSelect := false
	for _, h := range holders {
		if !h.public && h.role == grantee && h.onlySelect {
			hasSelect = true
			continue
		}
		who := sqlq.Ident(h.role)
		if h.public {
			who = "PUBLIC"
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf("REVOKE ALL ON %s FROM %s CASCADE", sqlq.Ident(view...), who)); err != nil {
			return err
		}
	}
	if !hasSelect {
		_, err = tx.Exec(ctx, fmt.Sprintf("GRANT SELECT ON %s TO %s", sqlq.Ident(view...), sqlq.Ident(grantee)))
	}
	return err
}
