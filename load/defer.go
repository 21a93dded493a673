package load

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantkit/tenantkit/internal/pgfault"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// deferred is what a fast-path load into an empty table took off the table
// before its COPY, as pg_restore does: its indexes and index-backed
// constraints, its foreign keys and the foreign keys of other tables that
// reference it. Building an index once over the loaded rows and checking a
// foreign key with one join cost a fraction of maintaining them row by row.
// The statements that put everything back are taken from the catalog
// (pg_get_indexdef, pg_get_constraintdef: names, DEFERRABLE, NOT VALID,
// partial and expression indexes, storage parameters, tablespaces), with the
// comments, CLUSTER ON, REPLICA IDENTITY and statistics targets that
// dropping loses, so the catalog after the run holds the same definitions.
type deferred struct {
	drop    []string
	restore []string
}

// deferredSQL lists, for the table $1, the statements that drop and
// re-create what a fast-path load defers, in the order they must run: rank
// orders the drops (foreign keys before the unique indexes they use); the
// re-creation runs in the opposite order. It returns no row when the table
// cannot be treated so: a partitioned table, a partition, a table with
// inheritance children or parents, an invalid index, or a table (this one
// or one that references it) the current role does not own.
const deferredSQL = `
WITH tbl AS (
	SELECT c.oid, c.relkind, c.relispartition, c.relreplident FROM pg_class c WHERE c.oid = $1::regclass
), fks AS (
	SELECT con.oid, con.conname, con.conrelid, 1 AS rank
	FROM pg_constraint con, tbl
	WHERE con.contype = 'f' AND (con.conrelid = tbl.oid OR con.confrelid = tbl.oid)
), idxcons AS (
	SELECT con.oid, con.conname, con.conrelid, con.conindid, 2 AS rank
	FROM pg_constraint con, tbl
	WHERE con.conrelid = tbl.oid AND con.contype IN ('p', 'u', 'x')
), plain AS (
	SELECT i.indexrelid, i.indisclustered, i.indisreplident
	FROM pg_index i, tbl
	WHERE i.indrelid = tbl.oid AND NOT EXISTS (SELECT FROM idxcons WHERE idxcons.conindid = i.indexrelid)
), allidx AS (
	SELECT i.indexrelid, i.indisclustered, i.indisreplident, i.indisvalid
	FROM pg_index i, tbl WHERE i.indrelid = tbl.oid
), eligible AS (
	SELECT tbl.relkind = 'r' AND NOT tbl.relispartition
		AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = tbl.oid OR h.inhparent = tbl.oid)
		AND NOT EXISTS (SELECT FROM allidx WHERE NOT allidx.indisvalid)
		AND pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl.oid), 'USAGE')
		AND NOT EXISTS (SELECT FROM fks JOIN pg_class r ON r.oid = fks.conrelid WHERE NOT pg_has_role(r.relowner, 'USAGE'))
		AS ok
	FROM tbl
), stmts AS (
	-- foreign keys: this table's and those referencing it
	SELECT fks.rank, fks.conname::text AS name,
		format('ALTER TABLE %s DROP CONSTRAINT %I', fks.conrelid::regclass, fks.conname) AS drop_sql,
		ARRAY[format('ALTER TABLE %s ADD CONSTRAINT %I %s', fks.conrelid::regclass, fks.conname, pg_get_constraintdef(fks.oid))] AS create_sql,
		NULL::oid AS spc, fks.oid AS con_oid, fks.conname AS conname, fks.conrelid, NULL::oid AS index_oid
	FROM fks
	UNION ALL
	-- primary key and unique constraints: their index as it was (storage
	-- parameters, INCLUDE, NULLS NOT DISTINCT), then the constraint using it
	SELECT c.rank, c.conname::text,
		format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
		ARRAY[pg_get_indexdef(c.conindid), format('ALTER TABLE %s ADD CONSTRAINT %I %s USING INDEX %I%s%s',
			c.conrelid::regclass, c.conname, CASE con.contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, ic.relname,
			CASE WHEN con.condeferrable THEN ' DEFERRABLE' ELSE '' END, CASE WHEN con.condeferred THEN ' INITIALLY DEFERRED' ELSE '' END)],
		ic.reltablespace, c.oid, c.conname, c.conrelid, c.conindid
	FROM idxcons c JOIN pg_constraint con ON con.oid = c.oid JOIN pg_class ic ON ic.oid = c.conindid
	WHERE con.contype IN ('p', 'u')
	UNION ALL
	-- exclusion constraints (their definition holds the index's)
	SELECT c.rank, c.conname::text,
		format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
		ARRAY[format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid))],
		ic.reltablespace, c.oid, c.conname, c.conrelid, c.conindid
	FROM idxcons c JOIN pg_constraint con ON con.oid = c.oid JOIN pg_class ic ON ic.oid = c.conindid
	WHERE con.contype = 'x'
	UNION ALL
	-- the other indexes
	SELECT 3, ic.relname::text,
		format('DROP INDEX %s', plain.indexrelid::regclass),
		ARRAY[pg_get_indexdef(plain.indexrelid)],
		ic.reltablespace, NULL, NULL, NULL, plain.indexrelid
	FROM plain JOIN pg_class ic ON ic.oid = plain.indexrelid
)
SELECT s.rank, s.drop_sql, s.create_sql,
	(SELECT spcname::text FROM pg_tablespace WHERE oid = s.spc AND s.spc <> 0) AS tablespace,
	-- what dropping loses besides the definition
	array_remove(ARRAY[
		(SELECT format('COMMENT ON CONSTRAINT %I ON %s IS %L', s.conname, s.conrelid::regclass, d.description)
			FROM pg_description d WHERE d.objoid = s.con_oid AND d.classoid = 'pg_constraint'::regclass AND d.objsubid = 0),
		(SELECT format('COMMENT ON INDEX %s IS %L', s.index_oid::regclass, d.description)
			FROM pg_description d WHERE d.objoid = s.index_oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0),
		(SELECT format('ALTER TABLE %s CLUSTER ON %I', $1::regclass, ic.relname)
			FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indexrelid = s.index_oid AND i.indisclustered),
		(SELECT format('ALTER TABLE %s REPLICA IDENTITY USING INDEX %I', $1::regclass, ic.relname)
			FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indexrelid = s.index_oid AND i.indisreplident)
	] || ARRAY(
		SELECT format('ALTER INDEX %s ALTER COLUMN %s SET STATISTICS %s', s.index_oid::regclass, a.attnum, a.attstattarget)
		FROM pg_attribute a WHERE a.attrelid = s.index_oid AND a.attstattarget >= 0 AND a.attnum > 0
		ORDER BY a.attnum
	), NULL) AS after_sql
FROM stmts s, eligible
WHERE eligible.ok
ORDER BY s.rank, s.name`

// deferConstraints takes the table's indexes and constraints off it (see
// deferred) before a fast-path COPY into it, inside tx. It returns nil
// with nothing changed when the run asked not to (--no-defer), when the
// table was not empty, holds nothing to defer, or cannot be treated so
// (see deferredSQL); a table whose drop the database refuses is left as
// it was.
func (l *loader) deferConstraints(ctx context.Context, tx pgx.Tx, obj *schema.Object) (*deferred, error) {
	if l.opts.NoDefer {
		return nil, nil
	}
	var empty bool
	if err := tx.QueryRow(ctx, "SELECT NOT EXISTS (SELECT FROM "+obj.Ident()+")").Scan(&empty); err != nil || !empty {
		return nil, err
	}
	d := &deferred{}
	var after []string
	rows, err := tx.Query(ctx, deferredSQL, obj.Ident())
	if err != nil {
		return nil, fmt.Errorf("reading the indexes and constraints of %s: %w", obj.Table, err)
	}
	type stmt struct {
		Rank       int
		DropSQL    string
		CreateSQL  []string
		Tablespace *string
		AfterSQL   []string
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[stmt])
	if err != nil {
		return nil, fmt.Errorf("reading the indexes and constraints of %s: %w", obj.Table, err)
	}
	if len(list) == 0 {
		return nil, nil
	}
	for _, s := range list {
		d.drop = append(d.drop, s.DropSQL)
	}
	for i := len(list) - 1; i >= 0; i-- {
		s := list[i]
		if s.Tablespace != nil {
			// pg_get_indexdef leaves the tablespace out; pg_dump does the same.
			d.restore = append(d.restore, "SET LOCAL default_tablespace = "+sqlq.Ident(*s.Tablespace))
		}
		d.restore = append(d.restore, s.CreateSQL...)
		if s.Tablespace != nil {
			d.restore = append(d.restore, "SET LOCAL default_tablespace = DEFAULT")
		}
		after = append(after, list[i].AfterSQL...)
	}
	d.restore = append(d.restore, after...)
	err = sqlq.Savepoint(ctx, tx, func(sp pgx.Tx) error {
		for _, sql := range d.drop {
			start := time.Now()
			if _, err := sp.Exec(ctx, sql); err != nil {
				return err
			}
			l.trace(start, sql)
		}
		return nil
	})
	if err != nil {
		if pgfault.Classify(err) == pgfault.Transient || ctx.Err() != nil {
			return nil, err
		}
		// Something depends on what it would drop (or it may not): load
		// with the indexes in place.
		l.trace(time.Now(), "not deferring the indexes of "+obj.Table+": "+err.Error())
		return nil, nil
	}
	return d, nil
}

// rebuild puts back what deferConstraints took off, building the indexes
// with the transaction's maintenance_work_mem (see Options.MaintenanceWorkMem)
// and checking the foreign keys with one join each. It reports false when
// the loaded rows break a unique, exclusion or foreign-key constraint: the
// caller rolls the section back and loads it through staging, which names
// the records.
func (d *deferred) rebuild(ctx context.Context, l *loader, tx pgx.Tx) (bool, error) {
	if mem := l.opts.MaintenanceWorkMem; mem != "" {
		// Raised, never lowered: a server tuned higher keeps its setting.
		const raise = `SELECT pg_catalog.set_config('maintenance_work_mem', $1, true)
			WHERE pg_catalog.pg_size_bytes($1) > pg_catalog.pg_size_bytes(pg_catalog.current_setting('maintenance_work_mem'))`
		tag, err := tx.Exec(ctx, raise, mem)
		if err != nil {
			return false, fmt.Errorf("setting maintenance_work_mem to %s: %w", sqlq.Lit(mem), err)
		}
		if tag.RowsAffected() > 0 {
			l.trace(time.Now(), "SET LOCAL maintenance_work_mem = "+sqlq.Lit(mem))
		}
	}
	for _, sql := range d.restore {
		start := time.Now()
		_, err := tx.Exec(ctx, sql)
		l.trace(start, sql)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgfault.Classify(err) == pgfault.Data {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("rebuilding after the load: %s: %w", sql, err)
		}
	}
	return true, nil
}
