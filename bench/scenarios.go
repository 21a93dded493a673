package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// scenario is one comparison: contenders that do the same work on the same
// starting state.
type scenario struct {
	Name  string
	Title string
	// Template is the kind of template database each run starts from.
	Template string
	// Shared runs every contender on one copy of the template (read-only work).
	Shared bool
	// Rows is the number of rows the work touches, for rows/s.
	Rows func(scale int64) int64
	// Fingerprint is a query over the database after a run; every run must
	// give the same answer, and Expect's when Expect is set.
	Fingerprint string
	Expect      func(ctx context.Context, h *harness, scale int64) (string, error)
	// Writer, when set, runs next to every contender (writer.go).
	Writer   *writerSpec
	Variants []variant
}

// variant is one contender of a scenario.
type variant struct {
	Name      string
	Tool      string // "tenantkit", "psql" or "pgloader"
	Command   string // the tenantkit command it runs
	Reference bool
	// ExitOK lists the exit codes that count as success (default: 0).
	ExitOK []int
	// Args gives the program's arguments for one run.
	Args func(ctx context.Context, r *runEnv) ([]string, error)
	// Check, when set, checks the run's result beyond the fingerprint.
	Check func(ctx context.Context, r *runEnv) error
}

// runEnv is one run's database and directories.
type runEnv struct {
	h     *harness
	scale int64
	db    string
	url   string
	dir   string // scratch directory of this run, emptied afterwards
}

// tk is the start of every tenantkit command line.
func (r *runEnv) tk(command string, args ...string) []string {
	return append([]string{"--db", r.url, "--quiet", "--schema", filepath.Join(r.h.root, "fixtures", "schema.xml"), command}, args...)
}

// tkCatalog is tk without the overlay: the catalog makes ca_contact
// tenant-optional, so userload accepts the pre-tenant rows (the overlay's
// tenancy="required" would reject them), and the primary key is the match key.
func (r *runEnv) tkCatalog(command string, args ...string) []string {
	return append([]string{"--db", r.url, "--quiet", command}, args...)
}

// psqlArgs runs psql commands against the run's database.
func (r *runEnv) psqlArgs(cmds ...string) []string {
	args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", r.url}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	return args
}

// contactColumns are ca_contact's columns in table order (the CSV's header).
const contactColumns = "id, userid, last_name, first_name, email, organization, location, attrs, tenant, last_mod"

// contactFingerprint is an order-independent digest of every contact.
const contactFingerprint = `SELECT count(*) || ' rows, digest ' || coalesce(sum(hashtext(c::text)::bigint), 0) FROM ca_contact c`

const upsertSQL = `BEGIN;
CREATE TEMP TABLE bench_stage (LIKE ca_contact INCLUDING DEFAULTS);
\copy bench_stage FROM %s WITH (FORMAT csv, HEADER true)
INSERT INTO ca_contact AS c (` + contactColumns + `)
SELECT ` + contactColumns + ` FROM bench_stage
ON CONFLICT (userid) DO UPDATE SET
    last_name = EXCLUDED.last_name, first_name = EXCLUDED.first_name, email = EXCLUDED.email,
    organization = EXCLUDED.organization, location = EXCLUDED.location, attrs = EXCLUDED.attrs,
    tenant = EXCLUDED.tenant, last_mod = EXCLUDED.last_mod;
COMMIT;
`

// setTenantSQL is the hand-written SREL rule, stamping the change column as
// tenantkit does (schema.Object.ChangeStamp).
const setTenantSQL = `UPDATE ca_contact c SET tenant = o.tenant, last_mod = greatest(c.last_mod, now()) FROM ca_organization o WHERE o.id = c.organization AND c.tenant IS NULL`

const setTenantXML = `<SetTenant>
  <Object name="cnt">
    <TenantRule type="SREL">organization</TenantRule>
    <Where>tenant is null</Where>
  </Object>
</SetTenant>
`

const buildTenantXML = `<BuildTenant>
  <Object from="org">
    <Attribute from="name" to="name"/>
    <Attribute from="description" to="description"/>
    <Where>inactive = 0</Where>
  </Object>
</BuildTenant>
`

// pgloaderLoad is pgloader's load command; %s are the file, the target,
// further WITH options (pgloaderFast or "") and BEFORE/AFTER LOAD clauses.
const pgloaderLoad = `LOAD CSV
  FROM %s (` + contactColumns + `)
  INTO %s
  TARGET TABLE ca_contact (` + contactColumns + `)
  WITH skip header = 1,
       fields optionally enclosed by '"',
       fields escaped by double-quote,
       fields terminated by ','%s%s
;
`

// pgloaderFast are pgloader's own fastest settings that still do the same
// work as the other contenders: its indexes are dropped before the COPY and
// rebuilt after it (in parallel), and rows go in large batches. "disable
// triggers" is left out: it would skip the foreign-key checks the others do.
const pgloaderFast = `,
       drop indexes,
       workers = 4, concurrency = 2,
       max parallel create index = 2,
       batch rows = 100000, batch size = 64 MB, prefetch rows = 200000`

// loadFingerprint adds the catalog of the load target to the contacts: the
// indexes and constraints of ca_contact and the foreign keys that reference
// it, so that a contender that drops and rebuilds them must leave them as
// they were.
const loadFingerprint = `SELECT (` + contactFingerprint + `) || ', catalog ' || (SELECT md5(coalesce(string_agg(d, E'\n' ORDER BY d), ''))
FROM (SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'ca_contact'::regclass
      UNION ALL
      SELECT 'constraint ' || conname || ' on ' || conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) || ' valid ' || convalidated
      FROM pg_constraint WHERE conrelid = 'ca_contact'::regclass OR confrelid = 'ca_contact'::regclass) s(d))`

// rowScopeReader is the person of the rowscope scenario: it may read the
// rows of tenant 2 (and, read-only, of its supertenant, the service provider).
const rowScopeReader = "tkbench_reader"

const rowScopeACL = `<AccessControl>
  <Person name="` + rowScopeReader + `"/>
  <Permission object="schema:public" to="EVERYONE" rights="Read"/>
  <Permission object="tenant:2" to="` + rowScopeReader + `" rights="Read"/>
</AccessControl>
`

// rowScopeCounts is how often each contender counts the reader's contacts
// in one psql session, so that the count, not psql's start, is measured.
const rowScopeCounts = 20

// rowScopeFilter selects the rows the reader sees: those of tenant 2 and of
// the service provider above it.
const rowScopeFilter = `tenant = ANY ('{1,2}')`

// countArgs repeats one count in one psql session, after the setup
// statements.
func (r *runEnv) countArgs(setup []string, count string) []string {
	cmds := append([]string{}, setup...)
	for range rowScopeCounts {
		cmds = append(cmds, count)
	}
	return r.psqlArgs(cmds...)
}

// sortedCopyName is the reference of extract --sorted: \copy in key order.
const sortedCopyName = `psql \copy (SELECT … ORDER BY id) TO (CSV)`

func scenarioNames() []string {
	var out []string
	for _, s := range scenarios() {
		out = append(out, s.Name)
	}
	return out
}

func same(scale int64) int64 { return scale }

// scenarios are every comparison, in run order.
func scenarios() []scenario {
	return []scenario{
		{
			Name: "load", Title: "load contacts into an empty table", Template: "orgs", Rows: same,
			Fingerprint: loadFingerprint,
			Expect: func(ctx context.Context, h *harness, scale int64) (string, error) {
				tpl, err := h.template(ctx, scale, "contacts")
				if err != nil {
					return "", err
				}
				return h.query(ctx, tpl, loadFingerprint)
			},
			Variants: []variant{
				{Name: "tenantkit userload (.dat)", Tool: "tenantkit", Command: "userload",
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						f, err := r.h.file(ctx, r.scale, "contacts", "dat")
						return r.tkCatalog("userload", "-f", f), err
					}},
				{Name: "tenantkit userload (.csv)", Tool: "tenantkit", Command: "userload",
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						f, err := r.h.file(ctx, r.scale, "contacts", "csv")
						return r.tkCatalog("userload", "-f", f), err
					}},
				{Name: `psql \copy (CSV)`, Tool: "psql", Reference: true,
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						f, err := r.h.file(ctx, r.scale, "contacts", "csv")
						return r.psqlArgs(fmt.Sprintf(`\copy ca_contact FROM %s WITH (FORMAT csv, HEADER true)`, psqlPath(f))), err
					}},
				{Name: pgloaderName, Tool: "pgloader", Args: pgloaderArgs("")},
				{Name: pgloaderFastName, Tool: "pgloader", Args: pgloaderArgs(pgloaderFast)},
				{Name: pgloaderFastFKName, Tool: "pgloader", Args: pgloaderArgs(pgloaderFast, withoutReferencingKeys)},
			},
		},
		{
			Name: "upsert", Title: "userload upsert: half existing keys, half new", Template: "contacts", Rows: same,
			Fingerprint: contactFingerprint,
			Expect:      expectUpsert,
			Variants: []variant{
				{Name: "tenantkit userload (.dat)", Tool: "tenantkit", Command: "userload",
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						f, err := r.h.file(ctx, r.scale, "upsert", "dat")
						return r.tkCatalog("userload", "-f", f), err
					}},
				{Name: "tenantkit userload (.csv)", Tool: "tenantkit", Command: "userload",
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						f, err := r.h.file(ctx, r.scale, "upsert", "csv")
						return r.tkCatalog("userload", "-f", f), err
					}},
				{Name: `psql \copy to staging + INSERT … ON CONFLICT`, Tool: "psql", Reference: true,
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						f, err := r.h.file(ctx, r.scale, "upsert", "csv")
						if err != nil {
							return nil, err
						}
						script := filepath.Join(r.dir, "upsert.sql")
						if err := os.WriteFile(script, []byte(fmt.Sprintf(upsertSQL, psqlPath(f))), 0o600); err != nil {
							return nil, err
						}
						return []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", r.url, "-f", script}, nil
					}},
			},
		},
		{
			Name: "extract", Title: "extract contacts to a file", Template: "full", Shared: true, Rows: same,
			Variants: []variant{
				{Name: "tenantkit extract (.dat)", Tool: "tenantkit", Command: "extract", Check: checkOutput,
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						return r.tk("extract", "-o", filepath.Join(r.dir, "ca_contact.dat"), "ca_contact"), nil
					}},
				{Name: "tenantkit extract (.csv)", Tool: "tenantkit", Command: "extract", Check: checkOutput,
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						return r.tk("extract", "-o", filepath.Join(r.dir, "ca_contact.csv"), "ca_contact"), nil
					}},
				{Name: `psql \copy (SELECT …) TO (CSV)`, Tool: "psql", Reference: true, Check: checkOutput,
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						out := filepath.Join(r.dir, "ca_contact.csv")
						return r.psqlArgs(fmt.Sprintf(`\copy (SELECT * FROM ca_contact) TO %s WITH (FORMAT csv, HEADER true)`, psqlPath(out))), nil
					}},
				{Name: "tenantkit extract --sorted (.csv)", Tool: "tenantkit", Command: "extract", Check: checkOutput,
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						return r.tk("extract", "--sorted", "-o", filepath.Join(r.dir, "ca_contact.csv"), "ca_contact"), nil
					}},
				{Name: sortedCopyName, Tool: "psql", Check: checkOutput,
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						out := filepath.Join(r.dir, "ca_contact.csv")
						return r.psqlArgs(fmt.Sprintf(`\copy (SELECT * FROM ca_contact ORDER BY id) TO %s WITH (FORMAT csv, HEADER true)`, psqlPath(out))), nil
					}},
			},
		},
		{
			Name: "settenant", Title: "contacts take their organization's tenant (SREL rule)", Template: "settenant", Rows: same,
			// The digest leaves last_mod out: both contenders set it to now().
			Fingerprint: `SELECT count(*) FILTER (WHERE tenant IS NULL) || ' untenanted, digest ' || sum(hashtext((c.id, c.tenant)::text)::bigint) FROM ca_contact c`,
			Variants: []variant{
				{Name: "tenantkit settenant", Tool: "tenantkit", Command: "settenant", ExitOK: []int{0, 1},
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						f := filepath.Join(r.dir, "settenant.xml")
						return r.tk("settenant", "-f", f), os.WriteFile(f, []byte(setTenantXML), 0o600)
					}},
				{Name: "psql UPDATE … FROM", Tool: "psql", Reference: true,
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						return r.psqlArgs(setTenantSQL), nil
					}},
			},
		},
		{
			Name: "rowscope", Title: fmt.Sprintf("a person of one tenant counts its contacts (row-level security; %d counts per run)", rowScopeCounts),
			Template: "scoped", Shared: true, Rows: func(scale int64) int64 { return rowScopeCounts * scale },
			Variants: []variant{
				{Name: "SELECT count(*) as the person, acl policies", Tool: "psql", Check: checkRowScope,
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						return r.countArgs([]string{"SET ROLE " + rowScopeReader}, "SELECT count(*) FROM ca_contact"), nil
					}},
				{Name: "SELECT count(*) WHERE " + rowScopeFilter + ", no policies", Tool: "psql", Reference: true,
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						return r.countArgs(nil, "SELECT count(*) FROM ca_contact WHERE "+rowScopeFilter), nil
					}},
			},
		},
		{
			Name: "verify", Title: "verify a tenanted database (contacts, tickets, organizations)", Template: "full", Shared: true,
			Rows: func(scale int64) int64 { return 2*scale + 2*max(scale/100, 1) },
			Variants: []variant{
				{Name: "tenantkit verify", Tool: "tenantkit", Command: "verify",
					Args: func(ctx context.Context, r *runEnv) ([]string, error) { return r.tk("verify"), nil }},
			},
		},
		{
			Name: "prepare", Title: "make the organizations, locations and contacts tenant-ready (tenant column, foreign key, index) under a concurrent writer",
			Template: "untenanted", Rows: func(scale int64) int64 { return scale + 2*max(scale/100, 1) },
			Fingerprint: prepareFingerprint,
			Expect: func(_ context.Context, _ *harness, scale int64) (string, error) {
				return fmt.Sprintf("%s; %d contacts", prepareExpected, scale), nil
			},
			Writer: &contactWriter,
			Variants: []variant{
				{Name: "tenantkit prepare apply --online", Tool: "tenantkit", Command: "prepare", Check: checkPrepared,
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						return r.tkPrepare("apply", "--online")
					}},
				{Name: "tenantkit prepare apply", Tool: "tenantkit", Command: "prepare", Check: checkPrepared,
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						return r.tkPrepare("apply")
					}},
				{Name: prepareRefName, Tool: "psql", Reference: true, Check: checkPrepared,
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						return r.psqlArgs(prepareSQL()...), nil
					}},
			},
		},
		{
			Name: "buildtenant", Title: "one tenant per active organization", Template: "pretenant",
			Rows:        func(scale int64) int64 { return max(scale/10, 1) },
			Fingerprint: `SELECT (SELECT count(*) FROM ca_tenant) || ' tenants, ' || (SELECT count(*) FROM ca_organization WHERE inactive = 0 AND tenant IS NULL) || ' active organizations untenanted'`,
			Expect: func(ctx context.Context, h *harness, scale int64) (string, error) {
				tpl, err := h.template(ctx, scale, "pretenant")
				if err != nil {
					return "", err
				}
				return h.query(ctx, tpl, `SELECT (1 + count(*)) || ' tenants, 0 active organizations untenanted' FROM ca_organization WHERE inactive = 0`)
			},
			Variants: []variant{
				{Name: "tenantkit buildtenant", Tool: "tenantkit", Command: "buildtenant",
					Args: func(ctx context.Context, r *runEnv) ([]string, error) {
						f := filepath.Join(r.dir, "buildtenant.xml")
						return r.tk("buildtenant", "-f", f), os.WriteFile(f, []byte(buildTenantXML), 0o600)
					}},
			},
		},
	}
}

// prepareTables are the tables of the prepare scenario, whose tenant
// column the untenanted template lacks.
var prepareTables = []string{"ca_organization", "ca_location", "ca_contact"}

// prepareXML is the overlay of the prepare scenario: the existing tenant
// table and the three tenant-required objects.
const prepareXML = `<Schema>
  <Tenants table="ca_tenant" key="id" name="name" parent="parent"
           subtenantsAllowed="subtenants_ok" active="active"
           serviceProvider="service_provider" depth="tenant_depth"/>
  <Object name="org" table="ca_organization" tenancy="required" key="id"/>
  <Object name="loc" table="ca_location" tenancy="required"/>
  <Object name="cnt" table="ca_contact" tenancy="required" key="userid"/>
</Schema>
`

// tkPrepare is a prepare command line with the scenario's overlay, which
// it writes into the run's directory.
func (r *runEnv) tkPrepare(args ...string) ([]string, error) {
	f := filepath.Join(r.dir, "prepare.xml")
	if err := os.WriteFile(f, []byte(prepareXML), 0o600); err != nil {
		return nil, err
	}
	return append([]string{"--db", r.url, "--quiet", "--schema", f, "prepare"}, args...), nil
}

const prepareRefName = "psql ADD COLUMN; ADD CONSTRAINT … NOT VALID; VALIDATE; CREATE INDEX CONCURRENTLY"

// prepareSQL is what a DBA writes by hand for the prepare scenario, each
// statement in its own transaction, under prepare's names.
func prepareSQL() []string {
	var out []string
	for _, t := range prepareTables {
		fk, idx := sqlq.Ident(t+"_tenant_tkfk"), sqlq.Ident(t+"_tenant_tkidx")
		out = append(out,
			fmt.Sprintf("ALTER TABLE %s ADD COLUMN tenant integer", sqlq.Ident(t)),
			fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (tenant) REFERENCES ca_tenant (id) NOT VALID", sqlq.Ident(t), fk),
			fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", sqlq.Ident(t), fk),
			fmt.Sprintf("CREATE INDEX CONCURRENTLY %s ON %s (tenant)", idx, sqlq.Ident(t)))
	}
	return out
}

// prepareFingerprint names, for each table of the scenario, its tenant
// column's type, whether a validated foreign key on it references the
// tenant table, and whether a valid index leads with it; and the contacts.
const prepareFingerprint = `SELECT string_agg(format('%s.%s %s, foreign key valid %s, index valid %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
    (SELECT coalesce(bool_and(k.convalidated)::text, 'none') FROM pg_constraint k
     WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.conkey = ARRAY[a.attnum] AND k.confrelid = 'ca_tenant'::regclass),
    (SELECT coalesce(bool_and(i.indisvalid)::text, 'none') FROM pg_index i WHERE i.indrelid = c.oid AND i.indkey[0] = a.attnum)), '; ' ORDER BY c.relname)
  || '; ' || (SELECT count(*) FROM ca_contact) || ' contacts'
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant' AND NOT a.attisdropped
WHERE c.oid IN ('ca_organization'::regclass, 'ca_location'::regclass, 'ca_contact'::regclass)`

// prepareExpected is the fingerprint of a prepared database, before the
// number of contacts.
const prepareExpected = "ca_contact.tenant integer, foreign key valid true, index valid true; " +
	"ca_location.tenant integer, foreign key valid true, index valid true; " +
	"ca_organization.tenant integer, foreign key valid true, index valid true"

// contactWriter is the concurrent writer of the prepare scenario: one
// random contact's last name changes by its key.
var contactWriter = writerSpec{
	Text: "UPDATE ca_contact SET last_name = $2 WHERE userid = $1 (a random contact), then COMMIT",
	SQL:  "UPDATE ca_contact SET last_name = $2 WHERE userid = $1",
	Args: func(rnd *rand.Rand, scale int64) []any {
		return []any{fmt.Sprintf("u%08d", 1+rnd.Int64N(scale)), fmt.Sprintf("writer %d", rnd.Uint32())}
	},
}

// checkPrepared checks that prepare finds nothing more to do: `prepare
// plan` prints nothing, the reference's work included.
func checkPrepared(ctx context.Context, r *runEnv) error {
	if _, ok := r.h.missing["prepare"]; ok {
		return nil
	}
	args, err := r.tkPrepare("plan")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, r.h.bin, args...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("prepare plan after the run: %v: %s", err, lastLines(stderr.String(), 3))
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		return fmt.Errorf("prepare plan after the run still plans: %s", lastLines(s, 3))
	}
	return nil
}

// Names of the pgloader contenders of the load scenario.
const (
	pgloaderName     = "pgloader (CSV)"
	pgloaderFastName = "pgloader (CSV, drop indexes, parallel)"
	// The same with the foreign keys that reference the table dropped
	// before and re-added after, as a DBA would to let pgloader drop the
	// primary key.
	pgloaderFastFKName = "pgloader (CSV, drop indexes, parallel, referencing foreign keys re-added)"
)

// pgloaderArgs writes pgloader's load command with further WITH options
// (and BEFORE/AFTER LOAD clauses from around) and returns its arguments.
func pgloaderArgs(with string, around ...func(ctx context.Context, r *runEnv) (string, error)) func(ctx context.Context, r *runEnv) ([]string, error) {
	return func(ctx context.Context, r *runEnv) ([]string, error) {
		f, err := r.h.file(ctx, r.scale, "contacts", "csv")
		if err != nil {
			return nil, err
		}
		clauses := ""
		for _, a := range around {
			c, err := a(ctx, r)
			if err != nil {
				return nil, err
			}
			clauses += c
		}
		load := filepath.Join(r.dir, "contacts.load")
		target := connURL("postgresql", r.h.server, r.db)
		if err := os.WriteFile(load, []byte(fmt.Sprintf(pgloaderLoad, sqlq.Lit(f), target, with, clauses)), 0o600); err != nil {
			return nil, err
		}
		return []string{"--root-dir", filepath.Join(r.dir, "pgloader"), load}, nil
	}
}

// withoutReferencingKeys is what a DBA adds so that pgloader's "drop
// indexes" can drop ca_contact's primary key: BEFORE LOAD drops the foreign
// keys of other tables that reference ca_contact, AFTER LOAD (once pgloader
// has rebuilt the indexes) adds them again, validated, with their own
// definitions read from the catalog of the run's database.
func withoutReferencingKeys(ctx context.Context, r *runEnv) (string, error) {
	conn, err := r.h.connect(ctx, r.db)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT n.nspname, t.relname, c.conname, pg_get_constraintdef(c.oid)
		FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE c.contype = 'f' AND c.confrelid = 'ca_contact'::regclass AND c.conrelid <> c.confrelid
		ORDER BY 1, 2, 3`)
	if err != nil {
		return "", fmt.Errorf("reading the foreign keys that reference ca_contact: %w", err)
	}
	defer rows.Close()
	var drop, add []string
	for rows.Next() {
		var nsp, table, name, def string
		if err := rows.Scan(&nsp, &table, &name, &def); err != nil {
			return "", err
		}
		drop = append(drop, fmt.Sprintf("$$ ALTER TABLE %s DROP CONSTRAINT %s; $$", sqlq.Ident(nsp, table), sqlq.Ident(name)))
		add = append(add, fmt.Sprintf("$$ ALTER TABLE %s ADD CONSTRAINT %s %s; $$", sqlq.Ident(nsp, table), sqlq.Ident(name), def))
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(drop) == 0 {
		return "", nil
	}
	return "\n  BEFORE LOAD DO " + strings.Join(drop, ",\n    ") + "\n  AFTER LOAD DO " + strings.Join(add, ",\n    "), nil
}

// expectUpsert is the state after the upsert: contacts 1…scale/2 as they
// were, and every contact of the upsert file as the file has it.
func expectUpsert(ctx context.Context, h *harness, scale int64) (string, error) {
	kept, err := h.template(ctx, scale, "contacts")
	if err != nil {
		return "", err
	}
	loaded, err := h.template(ctx, scale, "upsert")
	if err != nil {
		return "", err
	}
	const q = `SELECT count(*) || ' ' || coalesce(sum(hashtext(c::text)::bigint), 0) FROM ca_contact c WHERE substr(userid, 2)::bigint %s`
	a, err := h.query(ctx, kept, fmt.Sprintf(q, fmt.Sprintf("<= %d", scale/2)))
	if err != nil {
		return "", err
	}
	b, err := h.query(ctx, loaded, fmt.Sprintf(q, "> 0"))
	if err != nil {
		return "", err
	}
	var n1, d1, n2, d2 int64
	if _, err := fmt.Sscan(a+" "+b, &n1, &d1, &n2, &d2); err != nil {
		return "", fmt.Errorf("upsert expectation %q %q: %w", a, b, err)
	}
	return fmt.Sprintf("%d rows, digest %d", n1+n2, d1+d2), nil
}

// checkRowScope checks that the policies are in force: the person counts
// exactly the rows of its tenants, fewer than the table has.
func checkRowScope(ctx context.Context, r *runEnv) error {
	conn, err := r.h.connect(ctx, r.db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var all, want, seen int64
	if err := conn.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE "+rowScopeFilter+") FROM ca_contact").Scan(&all, &want); err != nil {
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+rowScopeReader); err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM ca_contact").Scan(&seen); err != nil {
		return err
	}
	if seen != want || seen == 0 || seen == all {
		return fmt.Errorf("the person sees %d of %d contacts, want %d (its tenant and the service provider)", seen, all, want)
	}
	return nil
}

// checkOutput checks that an extract wrote a non-empty file.
func checkOutput(ctx context.Context, r *runEnv) error {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "ca_contact.") {
			if info, err := e.Info(); err == nil && info.Size() > 0 {
				return nil
			}
		}
	}
	return fmt.Errorf("no output file in %s", r.dir)
}
