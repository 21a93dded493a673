// Package prepare makes a pre-tenant database tenant-ready from an overlay
// file: the tenant table (and its service provider row) when missing, a
// tenant column with a foreign key and an index on every tenanted object,
// NOT NULL on tenant-required objects once every row has its tenant
// (Finish), and key defaults for userload --new-keys (KeyDefaults).
//
// Plan reads the catalog and returns the statements that are still needed,
// none when the database is ready, so a rerun continues where a killed run
// stopped. Apply runs them: in one transaction, except the statements that
// must run outside one or that are worth their own (CREATE INDEX
// CONCURRENTLY, VALIDATE CONSTRAINT with Online; the NOT NULL steps of
// Finish). Nothing that prepare did not create is ever dropped or
// rewritten: columns are added without a default (a catalog change), and
// the only object it drops is an invalid index of its own name, left by a
// killed concurrent build.
package prepare

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// Options configure a plan.
type Options struct {
	// Overlay is the overlay file naming the objects, their tenancy and the
	// tenant table.
	Overlay string
	// DBSchema overrides the overlay's dbSchema; "" with neither is the
	// session's default schema.
	DBSchema string
	// Online builds indexes with CREATE INDEX CONCURRENTLY and adds foreign
	// keys NOT VALID, validating them afterwards, each in its own
	// transaction, so that no step blocks writes for long.
	Online bool
	// Finish sets NOT NULL on the tenant column of tenant-required objects;
	// it refuses while a row has no tenant.
	Finish bool
	// KeyDefaults gives integer keys without a default an identity that
	// starts past the column's largest value.
	KeyDefaults bool
	// ServiceProvider names the service provider row to create when the
	// tenant table has none; "" creates none.
	ServiceProvider string
}

// Step is one statement of a plan.
type Step struct {
	// Table is the table the statement changes or locks.
	Table string `json:"table"`
	// SQL is the statement.
	SQL string `json:"sql"`
	// Lock is the lock it takes and for how long, for a person to read.
	Lock string `json:"lock"`
	// Alone runs the statement in a transaction of its own (or, for
	// CREATE/DROP INDEX CONCURRENTLY, outside any), after the rest.
	Alone bool `json:"alone,omitempty"`
}

// Plan is what makes the database tenant-ready, in order.
type Plan struct {
	Steps []Step `json:"steps"`
}

// Write prints the plan as a script a person can read or run with psql:
// each statement after a comment with the lock it takes. An empty plan
// prints nothing.
func (p *Plan) Write(w io.Writer) error {
	for _, s := range p.Steps {
		if _, err := fmt.Fprintf(w, "-- %s: %s\n%s;\n", s.Table, s.Lock, s.SQL); err != nil {
			return err
		}
	}
	return nil
}

// UntenantedError refuses Finish while tenant-required objects hold rows
// without a tenant.
type UntenantedError struct {
	// Counts maps each such object to its rows without a tenant.
	Counts map[string]int64
}

func (e *UntenantedError) Error() string {
	names := make([]string, 0, len(e.Counts))
	for n := range e.Counts {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s: %d", n, e.Counts[n])
	}
	return "prepare: NOT NULL cannot be set while tenant-required rows have no tenant (" + strings.Join(parts, ", ") +
		"); give them their tenant (settenant) and run prepare.Options.Finish again"
}

// Lock descriptions.
const (
	lockNewTable   = "none on existing tables (a new table)"
	lockCatalog    = "ACCESS EXCLUSIVE, brief (catalog only, no table rewrite)"
	lockFKScan     = "SHARE ROW EXCLUSIVE on it and the tenant table while the rows are checked (writes wait)"
	lockFKValidate = "SHARE UPDATE EXCLUSIVE while the rows are checked (reads and writes go on)"
	lockIndex      = "SHARE while the index is built (writes wait)"
	lockIndexConc  = "SHARE UPDATE EXCLUSIVE while the index is built (reads and writes go on)"
	lockCheck      = "SHARE UPDATE EXCLUSIVE while the rows are checked (reads and writes go on)"
	lockRowInsert  = "ROW EXCLUSIVE (one new row)"
)

// Plan reads the database and returns what it still needs.
func Build(ctx context.Context, q sqlq.Querier, opts Options) (*Plan, error) {
	d, err := schema.ReadOverlay(opts.Overlay)
	if err != nil {
		return nil, err
	}
	if d.Tenants == nil {
		return nil, fault.Usagef("%s: the overlay has no <Tenants table=…>: prepare needs the tenant table's name", opts.Overlay)
	}
	dbSchema := opts.DBSchema
	if dbSchema == "" {
		dbSchema = d.DBSchema
	}
	if dbSchema == "" {
		if err := q.QueryRow(ctx, "SELECT coalesce(nullif(pg_catalog.current_setting('tenantkit.default_schema', true), ''), pg_catalog.current_schema(), 'public')").Scan(&dbSchema); err != nil {
			return nil, fault.Failure(fmt.Errorf("prepare: reading the default schema: %w", err))
		}
	}
	b := &builder{q: q, opts: opts, d: d, schema: dbSchema}
	if err := b.tenantTable(ctx); err != nil {
		return nil, err
	}
	untenanted := map[string]int64{}
	for _, o := range d.Objects {
		if o.Tenancy != schema.Required && o.Tenancy != schema.Optional {
			continue
		}
		if err := b.object(ctx, o, untenanted); err != nil {
			return nil, err
		}
	}
	if len(untenanted) > 0 {
		return nil, fault.Violations(&UntenantedError{Counts: untenanted})
	}
	sort.SliceStable(b.plan.Steps, func(i, j int) bool { return !b.plan.Steps[i].Alone && b.plan.Steps[j].Alone })
	return &b.plan, nil
}

type builder struct {
	q      sqlq.Querier
	opts   Options
	d      *schema.Declared
	schema string
	plan   Plan
	// tenant table: its quoted name, key column and key type
	tt, key, keyType string
}

func (b *builder) add(s Step) { b.plan.Steps = append(b.plan.Steps, s) }

// table is what the catalog says of one table.
type table struct {
	oid     uint32
	columns map[string]column
	pkey    []string
}

type column struct {
	typ      string
	typOID   uint32
	notNull  bool
	defaults bool // a default or an identity
}

const tableSQL = `
SELECT c.oid,
	coalesce(ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), '{}'),
	coalesce(ARRAY(SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), '{}'),
	coalesce(ARRAY(SELECT a.atttypid FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), '{}'),
	coalesce(ARRAY(SELECT a.attnotnull FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), '{}'),
	coalesce(ARRAY(SELECT a.atthasdef OR a.attidentity <> '' FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), '{}'),
	coalesce(ARRAY(SELECT a.attname::text FROM pg_catalog.pg_constraint k, unnest(k.conkey) WITH ORDINALITY u(n, i)
		JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.n
		WHERE k.conrelid = c.oid AND k.contype = 'p' ORDER BY u.i), '{}')
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`

// readTable returns nil when the table does not exist.
func (b *builder) readTable(ctx context.Context, name string) (*table, error) {
	var t table
	var names, types []string
	var oids []uint32
	var notNull, defaults []bool
	err := b.q.QueryRow(ctx, tableSQL, b.schema, name).Scan(&t.oid, &names, &types, &oids, &notNull, &defaults, &t.pkey)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fault.Failure(fmt.Errorf("prepare: reading table %s: %w", name, err))
	}
	t.columns = map[string]column{}
	for i, n := range names {
		t.columns[n] = column{typ: types[i], typOID: oids[i], notNull: notNull[i], defaults: defaults[i]}
	}
	return &t, nil
}

// tenantTable plans the tenant table and its service provider row.
func (b *builder) tenantTable(ctx context.Context) error {
	dt := b.d.Tenants
	b.tt = sqlq.Ident(b.schema, dt.Table)
	t, err := b.readTable(ctx, dt.Table)
	if err != nil {
		return err
	}
	col := func(role string) string { return sqlq.Ident(dt.Column(role)) }
	if t == nil {
		b.key, b.keyType = dt.Column("key"), "bigint"
		b.add(Step{Table: dt.Table, Lock: lockNewTable, SQL: fmt.Sprintf(`CREATE TABLE %s (
	%s bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	%s text NOT NULL UNIQUE,
	%s bigint REFERENCES %s (%s),
	%s boolean NOT NULL DEFAULT false,
	%s boolean NOT NULL DEFAULT true,
	%s boolean NOT NULL DEFAULT false,
	%s integer NOT NULL DEFAULT 0 CHECK (%s >= 0)
)`, b.tt, col("key"), col("name"), col("parent"), b.tt, col("key"), col("subtenantsAllowed"), col("active"),
			col("serviceProvider"), col("depth"), col("depth"))})
		if b.opts.ServiceProvider != "" {
			b.add(Step{Table: dt.Table, Lock: lockRowInsert, SQL: fmt.Sprintf("INSERT INTO %s (%s, %s, %s, %s, %s) VALUES (%s, true, true, true, 0)",
				b.tt, col("name"), col("subtenantsAllowed"), col("active"), col("serviceProvider"), col("depth"), sqlq.Lit(b.opts.ServiceProvider))})
		}
		return nil
	}
	// The table exists: it must have the columns the overlay names.
	for _, role := range schema.TenantRoles() {
		name, named := dt.Columns[role]
		if named {
			if _, ok := t.columns[name]; !ok {
				a, _ := dt.Node.Lookup(role)
				return dt.Node.AttrErrorf(a, "<Tenants> %s: table %q has no column %q", role, dt.Table, name)
			}
		}
	}
	b.key = dt.Columns["key"]
	if b.key == "" {
		if len(t.pkey) != 1 {
			return dt.Node.Errorf("<Tenants>: table %q has no single-column primary key; name its key column (key=…)", dt.Table)
		}
		b.key = t.pkey[0]
	}
	b.keyType = t.columns[b.key].typ
	if b.opts.ServiceProvider == "" {
		return nil
	}
	sp := dt.Column("serviceProvider")
	if _, ok := t.columns[sp]; !ok {
		return dt.Node.Errorf("<Tenants>: table %q has no service provider column (serviceProvider=…): prepare.Options.ServiceProvider cannot mark a row", dt.Table)
	}
	var exists bool
	err = b.q.QueryRow(ctx, fmt.Sprintf("SELECT EXISTS (SELECT FROM %s WHERE %s)", b.tt, sqlq.Ident(sp))).Scan(&exists)
	if err != nil {
		return fault.Failure(fmt.Errorf("prepare: reading %s: %w", dt.Table, err))
	}
	if !exists {
		cols, vals := []string{sqlq.Ident(dt.Column("name")), sqlq.Ident(sp)}, []string{sqlq.Lit(b.opts.ServiceProvider), "true"}
		for role, val := range map[string]string{"subtenantsAllowed": "true", "active": "true", "depth": "0"} {
			if _, ok := t.columns[dt.Column(role)]; ok {
				cols, vals = append(cols, sqlq.Ident(dt.Column(role))), append(vals, val)
			}
		}
		b.add(Step{Table: dt.Table, Lock: lockRowInsert, SQL: fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", b.tt, strings.Join(cols, ", "), strings.Join(vals, ", "))})
	}
	return nil
}

// objectState is what the catalog says of an object's tenant column.
const objectStateSQL = `
SELECT
	-- a foreign key from the column alone to the tenant table, and whether it is validated
	(SELECT k.convalidated FROM pg_catalog.pg_constraint k
		WHERE k.conrelid = $1 AND k.contype = 'f' AND k.confrelid = $2::regclass
		AND k.conkey = ARRAY[(SELECT attnum FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attname = $3)]
		ORDER BY k.convalidated DESC LIMIT 1),
	-- a valid index whose first column is it
	EXISTS (SELECT FROM pg_catalog.pg_index i WHERE i.indrelid = $1 AND i.indisvalid
		AND i.indkey[0] = (SELECT attnum FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attname = $3)),
	-- an invalid index of prepare's name, left by a killed concurrent build
	EXISTS (SELECT FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
		WHERE i.indrelid = $1 AND NOT i.indisvalid AND ic.relname = $4),
	-- prepare's NOT NULL check, and whether it is validated
	(SELECT k.convalidated FROM pg_catalog.pg_constraint k WHERE k.conrelid = $1 AND k.conname = $5)`

// canReference says whether a column of type col can reference the tenant
// key: the same type, or one the key's btree operator family compares.
const canReferenceSQL = `
SELECT $1::oid = $2::oid OR EXISTS (
	SELECT FROM pg_catalog.pg_opclass oc JOIN pg_catalog.pg_amop o ON o.amopfamily = oc.opcfamily
	WHERE oc.opcmethod = (SELECT oid FROM pg_catalog.pg_am WHERE amname = 'btree') AND oc.opcdefault
		AND oc.opcintype = $2::oid AND o.amoplefttype = $1::oid AND o.amoprighttype = $2::oid AND o.amopstrategy = 3)`

func (b *builder) object(ctx context.Context, o *schema.DeclaredObject, untenanted map[string]int64) error {
	t, err := b.readTable(ctx, o.Table)
	if err != nil {
		return err
	}
	if t == nil {
		return o.Node.Errorf("object %q: no table %q in schema %q", o.Name, o.Table, b.schema)
	}
	tbl := sqlq.Ident(b.schema, o.Table)
	tc := sqlq.Ident(o.TenantColumn)
	fkName := objectName(o.Table, o.TenantColumn, "tkfk")
	idxName := objectName(o.Table, o.TenantColumn, "tkidx")
	checkName := objectName(o.Table, o.TenantColumn, "tknn")
	c, exists := t.columns[o.TenantColumn]
	if !exists {
		b.add(Step{Table: o.Table, Lock: lockCatalog, SQL: fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", tbl, tc, b.keyType)})
	} else if b.keyTypeOID(ctx) != 0 {
		var ok bool
		if err := b.q.QueryRow(ctx, canReferenceSQL, c.typOID, b.keyTypeOID(ctx)).Scan(&ok); err != nil {
			return fault.Failure(fmt.Errorf("prepare: %s: %w", o.Table, err))
		}
		if !ok {
			return o.Node.Errorf("object %q: tenant column %q is %s, which cannot reference the tenant key %s (%s)", o.Name, o.TenantColumn, c.typ, b.key, b.keyType)
		}
	}
	var fkValid *bool
	var indexed, invalidIndex bool
	var checkValid *bool
	if exists {
		err := b.q.QueryRow(ctx, objectStateSQL, t.oid, b.tt, o.TenantColumn, idxName, checkName).Scan(&fkValid, &indexed, &invalidIndex, &checkValid)
		if err != nil {
			return fault.Failure(fmt.Errorf("prepare: reading %s: %w", o.Table, err))
		}
	}
	validate := Step{Table: o.Table, Lock: lockFKValidate, Alone: true, SQL: fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", tbl, sqlq.Ident(fkName))}
	switch {
	case fkValid == nil && b.opts.Online:
		b.add(Step{Table: o.Table, Lock: lockCatalog, SQL: fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s) NOT VALID",
			tbl, sqlq.Ident(fkName), tc, b.tt, sqlq.Ident(b.key))})
		b.add(validate)
	case fkValid == nil:
		b.add(Step{Table: o.Table, Lock: lockFKScan, SQL: fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s)",
			tbl, sqlq.Ident(fkName), tc, b.tt, sqlq.Ident(b.key))})
	case !*fkValid:
		validate.SQL = fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", tbl, b.foreignKeyName(ctx, t.oid, o.TenantColumn, fkName))
		b.add(validate)
	}
	if !indexed {
		// The tenant column alone: row scoping (tenant = ANY (…)) reads it
		// fastest, and with few distinct values it deduplicates to a fifth
		// of a (tenant, key) index (measured in the README).
		cols := []string{tc}
		if b.opts.Online {
			if invalidIndex {
				b.add(Step{Table: o.Table, Lock: lockIndexConc, Alone: true, SQL: "DROP INDEX CONCURRENTLY IF EXISTS " + sqlq.Ident(b.schema, idxName)})
			}
			b.add(Step{Table: o.Table, Lock: lockIndexConc, Alone: true, SQL: fmt.Sprintf("CREATE INDEX CONCURRENTLY %s ON %s (%s)", sqlq.Ident(idxName), tbl, strings.Join(cols, ", "))})
		} else {
			if invalidIndex {
				b.add(Step{Table: o.Table, Lock: lockCatalog, SQL: "DROP INDEX IF EXISTS " + sqlq.Ident(b.schema, idxName)})
			}
			b.add(Step{Table: o.Table, Lock: lockIndex, SQL: fmt.Sprintf("CREATE INDEX %s ON %s (%s)", sqlq.Ident(idxName), tbl, strings.Join(cols, ", "))})
		}
	}
	if b.opts.KeyDefaults {
		b.keyDefault(o, t, tbl)
	}
	if b.opts.Finish && o.Tenancy == schema.Required && !(exists && c.notNull) {
		if !exists {
			untenanted[o.Name] = b.rows(ctx, tbl)
			if untenanted[o.Name] == 0 {
				delete(untenanted, o.Name)
			}
		} else {
			var n int64
			if err := b.q.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s IS NULL", tbl, tc)).Scan(&n); err != nil {
				return fault.Failure(fmt.Errorf("prepare: counting %s: %w", o.Table, err))
			}
			if n > 0 {
				untenanted[o.Name] = n
			}
		}
		check := sqlq.Ident(checkName)
		if checkValid == nil {
			b.add(Step{Table: o.Table, Lock: lockCatalog, Alone: true, SQL: fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID", tbl, check, tc)})
		}
		if checkValid == nil || !*checkValid {
			b.add(Step{Table: o.Table, Lock: lockCheck, Alone: true, SQL: fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", tbl, check)})
		}
		b.add(Step{Table: o.Table, Lock: lockCatalog + "; the validated check spares the scan", Alone: true, SQL: fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", tbl, tc)})
		b.add(Step{Table: o.Table, Lock: lockCatalog, Alone: true, SQL: fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", tbl, check)})
	}
	return nil
}

// keyDefault plans an identity for an integer primary key without a
// default, starting past the column's largest value.
func (b *builder) keyDefault(o *schema.DeclaredObject, t *table, tbl string) {
	if len(t.pkey) != 1 {
		return
	}
	k := t.columns[t.pkey[0]]
	if k.defaults || (k.typ != "integer" && k.typ != "bigint" && k.typ != "smallint") {
		return
	}
	key := sqlq.Ident(t.pkey[0])
	b.add(Step{Table: o.Table, Lock: lockCatalog, SQL: fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s ADD GENERATED BY DEFAULT AS IDENTITY", tbl, key)})
	b.add(Step{Table: o.Table, Lock: "ACCESS SHARE while the largest key is read", SQL: fmt.Sprintf(
		"SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence(%s, %s), coalesce(max(%s), 0) + 1, false) FROM %s",
		sqlq.Lit(tbl), sqlq.Lit(t.pkey[0]), key, tbl)})
}

func (b *builder) rows(ctx context.Context, tbl string) int64 {
	var n int64
	_ = b.q.QueryRow(ctx, "SELECT count(*) FROM "+tbl).Scan(&n)
	return n
}

// keyTypeOID is the tenant key's type, 0 while the tenant table is yet to
// be created (its key is then bigint, the type of the columns planned).
func (b *builder) keyTypeOID(ctx context.Context) uint32 {
	var oid uint32
	err := b.q.QueryRow(ctx, `SELECT a.atttypid FROM pg_catalog.pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attname = $2`, b.tt, b.key).Scan(&oid)
	if err != nil {
		return 0
	}
	return oid
}

// foreignKeyName is the name of the existing unvalidated foreign key.
func (b *builder) foreignKeyName(ctx context.Context, rel uint32, col, fallback string) string {
	var name string
	err := b.q.QueryRow(ctx, `SELECT k.conname::text FROM pg_catalog.pg_constraint k
		WHERE k.conrelid = $1 AND k.contype = 'f' AND k.confrelid = $2::regclass AND NOT k.convalidated
		AND k.conkey = ARRAY[(SELECT attnum FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attname = $3)] LIMIT 1`,
		rel, b.tt, col).Scan(&name)
	if err != nil {
		name = fallback
	}
	return sqlq.Ident(name)
}

// objectName is the name of an index or constraint prepare creates:
// table_column_suffix, shortened with a hash to PostgreSQL's 63 bytes.
func objectName(table, column, suffix string) string {
	name := table + "_" + column + "_" + suffix
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:4])
	keep := 63 - len(suffix) - len(h) - 2
	base := table + "_" + column
	for len(base) > keep {
		base = base[:len(base)-1]
	}
	return strings.ToValidUTF8(base, "") + "_" + h + "_" + suffix
}
