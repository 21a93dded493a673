package aliases

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// AliasLoginRole is a NOLOGIN role every alias login is a member of. acl's
// restrictive row policies name it, so an alias login reading a tenanted
// table directly (through a grant to PUBLIC, say) sees none of its rows,
// however many logins aliases creates after the last acl apply; the views
// read the tables with their owner's rights and are not affected. Roles are
// cluster-wide, so it serves every database.
const AliasLoginRole = "tenantkit_alias_login"

// EnsureAliasLoginRoleSQL creates AliasLoginRole unless it exists (another
// database's run may create it at the same time).
const EnsureAliasLoginRoleSQL = `DO $$BEGIN CREATE ROLE ` + AliasLoginRole + ` NOLOGIN;
COMMENT ON ROLE ` + AliasLoginRole + ` IS 'tenantkit: every alias login is a member; acl row scoping restricts it';
EXCEPTION WHEN duplicate_object THEN NULL; END$$`

// managedMark starts the comment on every role, schema and view tenantkit
// aliases creates.
const managedMark = "managed by tenantkit aliases"

// source is a relation of the source schema published as a view.
type source struct {
	table   string
	ident   string // quoted schema.table
	columns []string
	types   []string // format_type of each column
	// filter is the column compared with the account's tenant keys; "" for
	// a relation whose rows are all public.
	filter string
	// public: rows with a NULL filter column are public (tenant-optional).
	public bool
}

// account is an account of the file, resolved against the database.
type account struct {
	*Account
	login    string
	keys     []string // tenant keys as text, subtenants included when asked
	timeZone string   // canonical name, "" for none
}

type planner struct {
	tx   pgx.Tx
	f    *File
	opts Options
	s    *schema.Schema
	me   string // the role tenantkit connects as
	db   string
	// authidReadable: pg_authid can be read, so a password can be compared
	// with the stored verifier.
	authidReadable bool
	sources        []*source
	accounts       []*account
	// pins maps each tenant reference of the file to the key it resolved
	// to (see tenant.CheckPins); refs holds each one's first place in the
	// file.
	pins map[string]string
	refs map[string]Value
}

const sessionSQL = `SELECT current_user, current_database(), has_table_privilege('pg_catalog.pg_authid', 'SELECT')`

func newPlanner(ctx context.Context, tx pgx.Tx, f *File, opts Options) (*planner, error) {
	p := &planner{tx: tx, f: f, opts: opts}
	if err := tx.QueryRow(ctx, sessionSQL).Scan(&p.me, &p.db, &p.authidReadable); err != nil {
		return nil, fault.Failure(fmt.Errorf("aliases: reading the session: %w", err))
	}
	if err := p.loadSchema(ctx); err != nil {
		return nil, err
	}
	if err := p.selectSources(ctx); err != nil {
		return nil, err
	}
	if err := p.checkReadable(ctx); err != nil {
		return nil, err
	}
	if err := p.resolveAccounts(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// checkPins refuses tenant names that resolve to other keys than when a run
// last pinned them (two tenants' names swapped would give one tenant's
// rows to the other's login), or with Repin returns a step per name whose
// pin moves.
func (p *planner) checkPins(ctx context.Context) ([]Step, error) {
	err := tenant.CheckPins(ctx, p.tx, p.pins)
	var pe *tenant.PinError
	if !errors.As(err, &pe) {
		if err != nil {
			return nil, fault.Failure(fmt.Errorf("aliases: %w", err))
		}
		return nil, nil
	}
	if err := pe.NameKeys(ctx, p.tx, p.s.Tenants); err != nil {
		return nil, fault.Failure(fmt.Errorf("aliases: %w", err))
	}
	if !p.opts.Repin {
		first := p.refs[pe.Conflicts[0].Name]
		parts := make([]string, len(pe.Conflicts))
		for i, c := range pe.Conflicts {
			parts[i] = c.String()
			if v := p.refs[c.Name]; v.Secret {
				parts[i] = "tenant " + secretValue + strings.TrimPrefix(parts[i], fmt.Sprintf("tenant %q", c.Name))
			}
		}
		return nil, fault.Usage(p.f.errorf(first.Pos, "%s: restore the names, or rerun with Options.Repin to accept the new ones", strings.Join(parts, "; ")))
	}
	var steps []Step
	for _, c := range pe.Conflicts {
		steps = append(steps, Step{Verb: "repin", Kind: "tenant", Name: c.Name, Detail: fmt.Sprintf("key %s, was key %s", c.CurrentKey, c.Key)})
	}
	return steps, nil
}

const unreadableSQL = `
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = ANY ($2) AND NOT has_table_privilege(c.oid, 'SELECT')
ORDER BY c.relname`

// checkReadable refuses sources tenantkit's role cannot read: the views read
// with their owner's rights, so the logins would get only errors.
func (p *planner) checkReadable(ctx context.Context) error {
	var tables []string
	for _, src := range p.sources {
		tables = append(tables, src.table)
	}
	rows, err := p.tx.Query(ctx, unreadableSQL, p.s.DBSchema, tables)
	if err != nil {
		return fault.Failure(fmt.Errorf("aliases: checking privileges: %w", err))
	}
	unreadable, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fault.Failure(fmt.Errorf("aliases: checking privileges: %w", err))
	}
	if len(unreadable) > 0 {
		return fault.Usagef("aliases: role %q, which will own the views, cannot read %s in schema %q; grant it SELECT first", p.me, strings.Join(unreadable, ", "), p.s.DBSchema)
	}
	return nil
}

// loadSchema reads the object schema of the source schema: the file's
// gim-user-schema, else the one the options name, else the current schema.
func (p *planner) loadSchema(ctx context.Context) error {
	so := p.opts.Schema
	if p.f.SourceSchema != "" {
		if so.DBSchema != "" && so.DBSchema != p.f.SourceSchema {
			return fault.Usage(p.f.errorf(p.f.SourceSchemaPos, "the file names schema %q but Options.Schema.DBSchema says %q", p.f.SourceSchema, so.DBSchema))
		}
		so.DBSchema = p.f.SourceSchema
		var exists bool
		if err := p.tx.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", so.DBSchema).Scan(&exists); err != nil {
			return fault.Failure(fmt.Errorf("aliases: reading schemas: %w", err))
		}
		if !exists {
			return fault.NotFound(p.f.errorf(p.f.SourceSchemaPos, "schema %q does not exist in database %q", so.DBSchema, p.db))
		}
	}
	s, err := schema.Load(ctx, p.tx, so)
	if err != nil {
		return err // overlay errors carry their position and exit code
	}
	p.s = s
	return nil
}

// selectSources picks the published relations: every tenanted table, or
// the tables and views matching --objects.
func (p *planner) selectSources(ctx context.Context) error {
	if len(p.opts.Objects) == 0 {
		for _, o := range p.s.Tenanted() {
			p.sources = append(p.sources, tableSource(o, p.s.Tenants))
		}
		if len(p.sources) == 0 {
			return fault.Usagef("aliases: schema %q has no tenanted tables to publish (name tables or views with Options.Objects)", p.s.DBSchema)
		}
		sort.Slice(p.sources, func(i, j int) bool { return p.sources[i].table < p.sources[j].table })
		return p.checkViewNames()
	}
	views, err := p.sourceViews(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	add := func(src *source) {
		if !seen[src.table] {
			seen[src.table] = true
			p.sources = append(p.sources, src)
		}
	}
	for _, pat := range p.opts.Objects {
		if _, err := path.Match(pat, ""); err != nil {
			return fault.Usagef("aliases: Options.Objects: bad pattern %q: %v", pat, err)
		}
		wild := strings.ContainsAny(pat, "*?[")
		matched := false
		for _, o := range p.s.Objects {
			ok1, _ := path.Match(pat, o.Name)
			ok2, _ := path.Match(pat, o.Table)
			if ok1 || ok2 {
				matched = true
				add(tableSource(o, p.s.Tenants))
			}
		}
		for _, v := range views {
			if ok, _ := path.Match(pat, v.table); !ok {
				continue
			}
			matched = true
			if v.filter == "" {
				if !wild {
					return fault.Usagef("aliases: Options.Objects: view %q has no tenant column %q, so tenantkit cannot tell whose rows it shows", v.table, p.tenantColumn())
				}
				continue // a pattern does not publish a view it cannot filter
			}
			add(v)
		}
		if !matched && !wild {
			return fault.Usagef("aliases: Options.Objects: no object, table or view %q in schema %q", pat, p.s.DBSchema)
		}
	}
	if len(p.sources) == 0 {
		return fault.Usagef("aliases: Options.Objects %s matches nothing to publish in schema %q", strings.Join(p.opts.Objects, ","), p.s.DBSchema)
	}
	sort.Slice(p.sources, func(i, j int) bool { return p.sources[i].table < p.sources[j].table })
	return p.checkViewNames()
}

func (p *planner) checkViewNames() error {
	for _, src := range p.sources {
		if name := p.opts.Prefix + src.table; len(name) > maxIdentifierBytes {
			return fault.Usagef("aliases: view name %q is longer than PostgreSQL's %d bytes; use a shorter Options.Prefix", name, maxIdentifierBytes)
		}
	}
	return nil
}

// tableSource describes a table of the object schema: tenanted tables are
// filtered on their tenant column, the tenant table on its key, the others
// hold public rows only.
func tableSource(o *schema.Object, tt *schema.TenantTable) *source {
	src := &source{table: o.Table, ident: o.Ident()}
	for _, c := range o.Columns {
		src.columns = append(src.columns, c.Name)
		src.types = append(src.types, c.Type)
	}
	switch {
	case o.Tenanted():
		src.filter, src.public = o.TenantColumn, o.Tenancy == schema.Optional
	case o.IsTenantTable && tt != nil:
		src.filter = tt.Key
	}
	return src
}

// tenantColumn is the tenant column views are filtered on: the option, else
// the one every tenanted table uses, else "tenant".
func (p *planner) tenantColumn() string {
	if p.opts.Schema.TenantColumn != "" {
		return p.opts.Schema.TenantColumn
	}
	col := ""
	for _, o := range p.s.Tenanted() {
		if col != "" && o.TenantColumn != col {
			return "tenant"
		}
		col = o.TenantColumn
	}
	if col == "" {
		return "tenant"
	}
	return col
}

const sourceViewsSQL = `
SELECT c.relname, array_agg(a.attname::text ORDER BY a.attnum), array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = $1 AND c.relkind IN ('v', 'm')
GROUP BY c.relname
ORDER BY c.relname`

// sourceViews lists the views of the source schema. The object schema knows
// only tables, so a view's tenant column is the conventional one; a NULL
// tenant reads as public, as for tenant-optional tables.
func (p *planner) sourceViews(ctx context.Context) ([]*source, error) {
	rows, err := p.tx.Query(ctx, sourceViewsSQL, p.s.DBSchema)
	if err != nil {
		return nil, fault.Failure(fmt.Errorf("aliases: reading the views of schema %q: %w", p.s.DBSchema, err))
	}
	tc := p.tenantColumn()
	views, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*source, error) {
		src := &source{}
		if err := r.Scan(&src.table, &src.columns, &src.types); err != nil {
			return nil, err
		}
		src.ident = sqlq.Ident(p.s.DBSchema, src.table)
		if slices.Contains(src.columns, tc) {
			src.filter, src.public = tc, true
		}
		return src, nil
	})
	if err != nil {
		return nil, fault.Failure(fmt.Errorf("aliases: reading the views of schema %q: %w", p.s.DBSchema, err))
	}
	return views, nil
}

// resolveAccounts checks logins, tenants and time zones against the
// database.
func (p *planner) resolveAccounts(ctx context.Context) error {
	var zones map[string]string
	for _, a := range p.f.Accounts {
		acc := &account{Account: a, login: a.Login.Text}
		switch acc.login {
		case p.s.DBSchema:
			return fault.Usage(p.f.errorf(a.Login.Pos, "login %s is the name of the source schema", a.Login.Quote()))
		case p.me:
			return fault.Usage(p.f.errorf(a.Login.Pos, "login %s is the role tenantkit connects as", a.Login.Quote()))
		}
		if !a.AllTenants {
			keys, err := p.tenantKeys(ctx, a)
			if err != nil {
				return err
			}
			acc.keys = keys
		}
		if a.TimeZone.Text != "" {
			if zones == nil {
				var err error
				if zones, err = p.timeZones(ctx); err != nil {
					return err
				}
			}
			tz, ok := zones[strings.ToLower(a.TimeZone.Text)]
			if !ok {
				return fault.Usage(p.f.errorf(a.TimeZone.Pos, "unknown time zone %s (not in pg_timezone_names)", a.TimeZone.Quote()))
			}
			acc.timeZone = tz
		}
		p.accounts = append(p.accounts, acc)
	}
	return nil
}

const descendantsSQL = `SELECT DISTINCT tenant::text FROM anc WHERE ancestor::text = ANY ($1)`

// tenantKeys resolves an account's tenant list (names, keys, tenant groups,
// group:, supertenants:, subtenants:, related:; see tenant.ResolveList),
// with the descendants when subtenants are included.
func (p *planner) tenantKeys(ctx context.Context, a *Account) ([]string, error) {
	if p.s.Tenants == nil {
		return nil, fault.Usage(p.f.errorf(a.Tenants[0].Pos, "schema %q has no tenant table; only (tenants: all) can be published", p.s.DBSchema))
	}
	texts := make([]string, len(a.Tenants))
	for i, ref := range a.Tenants {
		texts[i] = ref.Text
	}
	res, err := tenant.ResolveRefs(ctx, p.tx, p.s.Tenants, texts)
	var re *tenant.RefError
	switch {
	case errors.As(err, &re):
		ref := a.Tenants[re.Index]
		if !ref.Secret && strings.Contains(ref.Text, ":") {
			return nil, fault.NotFound(p.f.errorf(ref.Pos, "unknown tenant list %s: %v", ref.Quote(), re.Err))
		}
		return nil, fault.NotFound(p.f.errorf(ref.Pos, "unknown tenant %s: no tenant or tenant group has this name or key", ref.Quote()))
	case err != nil:
		return nil, fault.Failure(fmt.Errorf("aliases: %w", err))
	}
	seen := map[string]bool{}
	var keys []string
	for i, r := range res {
		ref := a.Tenants[i]
		// The tenant a reference names is pinned (a reference by key to
		// itself: names win over keys, and a tenant renamed like the key
		// would take it over); a group's members are stored as keys.
		if r.Named != nil {
			if p.pins == nil {
				p.pins, p.refs = map[string]string{}, map[string]Value{}
			}
			if _, ok := p.refs[r.Arg]; !ok {
				p.pins[r.Arg], p.refs[r.Arg] = r.Named.ID, ref
			}
		}
		for _, t := range r.Tenants {
			if !seen[t.ID] {
				seen[t.ID] = true
				keys = append(keys, t.ID)
			}
		}
	}
	if p.opts.IncludeSubtenants {
		rows, err := p.tx.Query(ctx, "WITH RECURSIVE "+tenant.AncestorsCTE(p.s.Tenants, "anc")+" "+descendantsSQL, keys)
		if err != nil {
			return nil, fault.Failure(fmt.Errorf("aliases: reading subtenants: %w", err))
		}
		all, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fault.Failure(fmt.Errorf("aliases: reading subtenants: %w", err))
		}
		keys = all
	}
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	return keys, nil
}

// keyLess orders keys numerically when both are digit strings.
func keyLess(a, b string) bool {
	if digits(a) && digits(b) && len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// timeZones maps the lower-cased names of the server's time zones to their
// spelling in pg_timezone_names.
func (p *planner) timeZones(ctx context.Context) (map[string]string, error) {
	rows, err := p.tx.Query(ctx, "SELECT name FROM pg_timezone_names")
	if err != nil {
		return nil, fault.Failure(fmt.Errorf("aliases: reading time zones: %w", err))
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fault.Failure(fmt.Errorf("aliases: reading time zones: %w", err))
	}
	zones := make(map[string]string, len(names))
	for _, n := range names {
		if _, dup := zones[strings.ToLower(n)]; !dup || n == strings.ToLower(n) {
			zones[strings.ToLower(n)] = n
		}
	}
	return zones, nil
}

// viewSQL is the view of src for an account: its columns, filtered to the
// account's tenants (and public rows), with a security barrier so that no
// function in a query on the view sees rows the filter hides.
func (p *planner) viewSQL(verb string, view pgx.Identifier, src *source, acc *account) string {
	cols := make([]string, len(src.columns))
	for i, c := range src.columns {
		cols[i] = "t." + sqlq.Ident(c)
	}
	sql := fmt.Sprintf("%s %s WITH (security_barrier) AS SELECT %s FROM %s t", verb, sqlq.Ident(view...), strings.Join(cols, ", "), src.ident)
	if acc.AllTenants || src.filter == "" {
		return sql
	}
	lits := make([]string, len(acc.keys))
	for i, k := range acc.keys {
		lits[i] = sqlq.Lit(k)
	}
	col := "t." + sqlq.Ident(src.filter)
	sql += fmt.Sprintf(" WHERE %s IN (%s)", col, strings.Join(lits, ", "))
	if src.public {
		sql += fmt.Sprintf(" OR %s IS NULL", col)
	}
	return sql
}

// fingerprint identifies what a view shows and to whom; it is kept in the
// view's comment so that a rerun can tell an up-to-date view.
func fingerprint(createSQL, login string) string {
	sum := sha256.Sum256([]byte(createSQL + "\x00" + login))
	return hex.EncodeToString(sum[:8])
}

func viewComment(fp string, src *source) string {
	return fmt.Sprintf("%s; fingerprint %s; source %s", managedMark, fp, src.ident)
}

func commentFingerprint(comment string) string {
	_, rest, ok := strings.Cut(comment, "; fingerprint ")
	if !ok {
		return ""
	}
	fp, _, _ := strings.Cut(rest, ";")
	return fp
}

// roleMark is the JSON after managedMark in a role's comment: the
// databases whose alias files publish the role. Role comments are shared by
// the cluster's databases, as roles are.
type roleMark struct {
	Databases []string `json:"databases"`
}

func parseRoleComment(comment string) (roleMark, bool) {
	rest, ok := strings.CutPrefix(comment, managedMark)
	if !ok {
		return roleMark{}, false
	}
	var m roleMark
	_ = json.Unmarshal([]byte(strings.TrimSpace(rest)), &m) // an unreadable list is an empty one
	return m, true
}

func roleComment(m roleMark) string {
	sort.Strings(m.Databases)
	m.Databases = slices.Compact(m.Databases)
	b, _ := json.Marshal(m)
	return managedMark + " " + string(b)
}

func schemaComment(login string) string {
	return fmt.Sprintf("%s; login %s", managedMark, login)
}
