package load

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// Shared sections (TABLE name SHARED, written by tenant-extract
// --with-references) hold the rows of other owners — public rows, the
// tenant's supertenants', the service provider's — that the tenant's rows
// reference. The database loaded into keeps its own copies of them:
//
//   - the SHARED section of the tenant table names, by key and name, the
//     owners of the shared rows; each is mapped to the database's tenant
//     of the same name (none: exit 2, nothing changed), and the shared
//     rows' tenant column is rewritten to the database's keys;
//   - a shared record is matched by the overlay key, else the primary key
//     (else the first unique constraint), and its owner unless the key
//     holds the tenant column: a record matching a row is not
//     applied (the row is kept as it is, counted unchanged), and when the
//     row's primary key differs from the record's, the references of the
//     run to the record are rewritten to the row (the key map of
//     --new-keys); a record matching no row is inserted with its own key,
//     or, with --new-keys, a fresh one when a row already holds that key;
//   - shared records are never stamped with the tenant of -t, and a shared
//     section is always staged.

// sharedOwners is the temporary table mapping the owners' keys in the
// file to the database's (both as text).
const sharedOwners = "tk_owners"

// checkSharedSection refuses shared sections where they cannot be applied.
func (l *loader) checkSharedSection(g *group, where string) error {
	switch {
	case l.opts.Mode != Upsert && l.opts.Mode != InsertOnly:
		return fault.Usagef("%s: table %q: a SHARED section is only inserted where missing; it cannot be loaded with %s", where, g.obj.Table, l.opts.Mode)
	case l.opts.RejectsFile != "":
		return fault.Usagef("%s: table %q: a file with SHARED sections moves a tenant as a whole: it cannot be loaded in part with Options.RejectsFile", where, g.obj.Table)
	case l.tenant == nil:
		return fault.Usagef("%s: table %q: a file with SHARED sections moves a tenant (extract.TenantOptions.WithReferences): give Options.Tenant, the tenant's name in this database", where, g.obj.Table)
	case g.key == nil:
		return fault.Usagef("%s: table %q: a SHARED section needs a match key among its columns (the overlay key or the primary key) to find the database's own copies", where, g.obj.Table)
	}
	if g.obj.IsTenantTable {
		tt := l.schema.Tenants
		if g.indexOf(tt.Key) < 0 || g.indexOf(tt.Name) < 0 {
			return fault.Usagef("%s: table %q: the SHARED section of the tenant table needs its key and name columns (%s, %s)", where, g.obj.Table, tt.Key, tt.Name)
		}
	}
	return nil
}

// applyShared applies a group of shared records.
func (l *loader) applyShared(ctx context.Context, g *group) error {
	if err := l.ensureOwnerMap(ctx); err != nil {
		return err
	}
	l.applying = "applying the shared records of " + g.obj.Table
	if g.obj.IsTenantTable {
		if err := l.castValues(ctx, g); err != nil {
			return err
		}
		return l.mapOwners(ctx, g)
	}
	steps := []func(context.Context, *group) error{
		l.castValues, l.rewriteOwners, l.rewireReferences, l.matchShared, l.checkLengths, l.checkSharedDuplicates,
		l.checkNotNull, l.checkTenantRequired, l.checkForeignKeys, l.checkReferences, l.insertShared,
	}
	for _, step := range steps {
		if err := step(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

// ensureOwnerMap creates the owner map once per run.
func (l *loader) ensureOwnerMap(ctx context.Context) error {
	if l.ownerMap {
		return nil
	}
	_, err := l.exec(ctx, "creating the owner map", "CREATE TEMP TABLE "+sharedOwners+" (label text PRIMARY KEY, newkey text, name text, _f int, _l int, _c int) ON COMMIT DROP")
	l.ownerMap = err == nil
	return err
}

// mapOwners maps the tenants of the tenant table's SHARED section to the
// database's tenants of the same name. A name the database lacks is bad
// input: the tenant (and its place in the hierarchy) must be created first.
func (l *loader) mapOwners(ctx context.Context, g *group) error {
	tt := l.schema.Tenants
	k, n := g.indexOf(tt.Key), g.indexOf(tt.Name)
	_, err := l.exec(ctx, "mapping the owners of shared rows", fmt.Sprintf(`
		INSERT INTO %s SELECT DISTINCT ON (s.%s::text) s.%s::text, b.%s::text, s.%s, s._f, s._l, s._c
		FROM %s s LEFT JOIN %s b ON b.%s = s.%s WHERE s.%s IS NOT NULL
		ORDER BY s.%s::text, s._n
		ON CONFLICT (label) DO NOTHING`,
		sharedOwners, col(k), col(k), sqlq.Ident(tt.Key), col(n), g.typed(), tt.Ident(), sqlq.Ident(tt.Name), col(n), col(k), col(k)))
	if err != nil {
		return err
	}
	rows, err := l.tx.Query(ctx, "SELECT name, label, _f, _l, _c FROM "+sharedOwners+" WHERE newkey IS NULL ORDER BY _f, _l, _c")
	if err != nil {
		return fault.Failure(fmt.Errorf("userload: reading the owners of shared rows: %w", err))
	}
	defer rows.Close()
	var missing []string
	var first string
	for rows.Next() {
		var name, label string
		var f, line, c int32
		if err := rows.Scan(&name, &label, &f, &line, &c); err != nil {
			return fault.Failure(err)
		}
		if first == "" {
			first = l.pos(f, line, c).String()
		}
		missing = append(missing, fmt.Sprintf("%q (key %s in the file)", name, label))
	}
	if err := rows.Err(); err != nil {
		return fault.Failure(err)
	}
	if len(missing) > 0 {
		return fault.Usagef("%s: %s: the file's shared rows are owned by %s, but this database has no tenant of that name: create %s first (tenantkit tenant create, under the same parent as in the source database); nothing was loaded",
			first, tt.Table, strings.Join(missing, ", "), plural(int64(len(missing)), "it", "them"))
	}
	// Every owner is kept as the database has it (the record detail says
	// "unchanged").
	kept, err := l.exec(ctx, "matching the owners of shared rows", fmt.Sprintf(`CREATE TEMP TABLE %s ON COMMIT DROP AS
		SELECT s._n, 1::bigint AS cnt, 0::bigint AS changed FROM %s s WHERE %s`, g.match(), g.typed(), notRejected))
	g.hasMatches = err == nil
	g.counts.Unchanged += kept
	return err
}

// rewriteOwners gives the shared records the database's key of their owner;
// an owner the tenant table's SHARED section does not name is a reject.
func (l *loader) rewriteOwners(ctx context.Context, g *group) error {
	i := g.tenantIdx()
	if i < 0 {
		return nil
	}
	_, err := l.exec(ctx, "checking the owners of shared rows", sqlq.Expand(unknownOwnerSQL, sqlq.Names{
		"owner": "s." + col(i), "typed": g.typed(), "owners": sharedOwners, "not_rejected": notRejected}), g.id, g.obj.TenantColumn)
	if err != nil {
		return err
	}
	_, err = l.exec(ctx, "rewriting the owners of shared rows", fmt.Sprintf(
		"UPDATE %s s SET %s = CAST(m.newkey AS %s) FROM %s m WHERE m.label = s.%s::text",
		g.typed(), col(i), castType(g.cols[i]), sharedOwners, col(i)))
	return err
}

// unknownOwnerSQL rejects the shared records whose owner the tenant
// table's SHARED section does not name.
const unknownOwnerSQL = `
INSERT INTO tk_rej SELECT s._n, $1, s._f, s._l, s._c, $2, {owner}::text,
	'the owner of this shared row (key ' || {owner}::text || ' in the file) is not named in the file''s SHARED section of the tenant table', 'unknown owner'
FROM {typed} s WHERE {owner} IS NOT NULL AND NOT EXISTS (SELECT FROM {owners} m WHERE m.label = {owner}::text) AND {not_rejected}`

// sharedPK is the position of the single-column primary key among the
// group's columns, -1 when there is none.
func sharedPK(g *group) int {
	if len(g.obj.PrimaryKey) != 1 {
		return -1
	}
	return g.indexOf(g.obj.PrimaryKey[0])
}

// keyMapFor returns the key map of g's object, creating it.
func (l *loader) keyMapFor(ctx context.Context, g *group, c *schema.Column) (string, error) {
	if m := l.keyMaps[g.obj]; m != "" {
		return m, nil
	}
	m := fmt.Sprintf("tk_k%d", g.id)
	if _, err := l.exec(ctx, "creating the key map", fmt.Sprintf("CREATE TEMP TABLE %s (label %s, newkey %s) ON COMMIT DROP", m, castType(c), castType(c))); err != nil {
		return "", err
	}
	l.keyMaps[g.obj] = m
	return m, nil
}

// sharedJoin is the condition that target row t is the database's copy of
// shared record s: the same match key and, for a tenanted object whose key
// leaves the tenant column out, the same owner (a public row's is NULL),
// so that a public kind "alpha" and a supertenant's are different rows.
func (g *group) sharedJoin(t, s string) string {
	join := g.keyJoin(t, s)
	if i := g.tenantIdx(); i >= 0 && !slices.Contains(g.key, i) {
		join += fmt.Sprintf(" AND %s.%s IS NOT DISTINCT FROM %s.%s", t, sqlq.Ident(g.obj.TenantColumn), s, col(i))
	}
	return join
}

// checkSharedDuplicates rejects shared records repeating the match key and
// owner of an earlier one: they would have one copy.
func (l *loader) checkSharedDuplicates(ctx context.Context, g *group) error {
	idx := g.key
	if i := g.tenantIdx(); i >= 0 && !slices.Contains(g.key, i) {
		idx = append(idx[:len(idx):len(idx)], i)
	}
	return l.findDuplicates(ctx, g, idx, "duplicate key %s of a shared row in the loaded data (first at %s:%s)")
}

// matchShared finds the database's copies of the shared records (the
// match table: records matching one row or several), rejects records
// matching several rows, and fills the key map: a matched record's key
// becomes the row's; with --new-keys an unmatched record whose key a row
// already holds gets a fresh key.
func (l *loader) matchShared(ctx context.Context, g *group) error {
	_, err := l.exec(ctx, "matching shared records to rows of "+g.obj.Table, fmt.Sprintf(`CREATE TEMP TABLE %s ON COMMIT DROP AS
		SELECT s._n, count(*) AS cnt, 0::bigint AS changed
		FROM %s s JOIN %s t ON %s WHERE %s GROUP BY s._n`,
		g.match(), g.typed(), g.obj.Ident(), g.sharedJoin("t", "s"), notRejected))
	if err != nil {
		return err
	}
	g.hasMatches = true
	_, err = l.exec(ctx, "checking matches", fmt.Sprintf(`
		INSERT INTO tk_rej SELECT s._n, $1, s._f, s._l, s._c, NULL, NULL,
			'shared row: key ' || %s || ' matches several rows of the database, so its copy there is ambiguous', 'several matches'
		FROM %s s JOIN %s m ON m._n = s._n WHERE m.cnt > 1 AND %s`, g.keyText("s"), g.typed(), g.match(), notRejected), g.id)
	if err != nil {
		return err
	}
	k := sharedPK(g)
	if k < 0 {
		return nil
	}
	pk := sqlq.Ident(g.obj.PrimaryKey[0])
	m, err := l.keyMapFor(ctx, g, g.cols[k])
	if err != nil {
		return err
	}
	if _, err := l.exec(ctx, "mapping shared records to the database's rows", fmt.Sprintf(`
		INSERT INTO %s SELECT s.%s, t.%s FROM %s s JOIN %s t ON %s
		WHERE s.%s IS DISTINCT FROM t.%s AND %s AND NOT EXISTS (SELECT FROM %s k WHERE k.label = s.%s)`,
		m, col(k), pk, g.typed(), g.obj.Ident(), g.sharedJoin("t", "s"), col(k), pk, notRejected, m, col(k))); err != nil {
		return err
	}
	c := g.cols[k]
	if !l.opts.NewKeys || !c.HasDefault() {
		return nil // an unmatched record whose key is taken is refused by the insert
	}
	if err := l.advanceSequence(ctx, g.obj, c); err != nil {
		return err
	}
	taken := fmt.Sprintf("NOT %s AND EXISTS (SELECT FROM %s t WHERE t.%s = s.%s)", g.matched(), g.obj.Ident(), pk, col(k))
	steps := []string{
		fmt.Sprintf(`INSERT INTO %s SELECT label, %s FROM (SELECT DISTINCT s.%s AS label FROM %s s WHERE %s AND %s
			AND NOT EXISTS (SELECT FROM %s k WHERE k.label = s.%s)) x`, m, keyDefault(g.obj, c), col(k), g.typed(), taken, notRejected, m, col(k)),
		fmt.Sprintf("UPDATE %s s SET %s = k.newkey FROM %s k WHERE s.%s = k.label AND %s", g.typed(), col(k), m, col(k), taken),
	}
	for _, sql := range steps {
		if _, err := l.exec(ctx, "giving fresh keys to shared records of "+g.obj.Table, sql); err != nil {
			return err
		}
	}
	return nil
}

// insertShared inserts the shared records that match no row; the matched
// ones count as unchanged: the database's copy is kept as it is.
func (l *loader) insertShared(ctx context.Context, g *group) error {
	inserted, _, err := l.changeSafely(ctx, g, l.insertStatement(g, "WHERE NOT "+g.matched()+" AND "+notRejected+" ", ""))
	if err != nil {
		return err
	}
	var kept int64
	if err := l.tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s s WHERE %s AND %s", g.typed(), g.matched(), notRejected)).Scan(&kept); err != nil {
		return fault.Failure(fmt.Errorf("userload: counting the kept shared rows of %s: %w", g.obj.Table, err))
	}
	g.counts.Inserted += inserted
	g.counts.Unchanged += kept
	return nil
}
