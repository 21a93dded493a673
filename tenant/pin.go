package tenant

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// Files that name tenants (acl rights files, alias files) are resolved again
// on every run, and a tenant's name is just a column anyone allowed to
// update the tenant table can change: swapping two names would silently
// hand one tenant's rows to the other's users. So every name a run resolved
// is pinned to the key it found, in tenantkit.tenant_pin, and the next run
// refuses a name that now resolves to another key.
const (
	pinSchemaSQL = `CREATE SCHEMA IF NOT EXISTS tenantkit;
CREATE TABLE IF NOT EXISTS tenantkit.tenant_pin (
	name      text PRIMARY KEY,
	key       text NOT NULL,
	pinned_by text NOT NULL,
	pinned_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE tenantkit.tenant_pin IS 'tenantkit: the tenant key each tenant name resolved to when a run last used it'`
	// Concurrent CREATE … IF NOT EXISTS can collide; the lock serialises
	// the creators.
	pinSchemaLockSQL  = `SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('tenantkit.tenant_pin'))`
	pinTableExistsSQL = `SELECT pg_catalog.to_regclass('tenantkit.tenant_pin') IS NOT NULL`
	pinsSQL           = `SELECT p.name, p.key, p.pinned_by, p.pinned_at FROM tenantkit.tenant_pin p WHERE p.name = ANY ($1::text[]) OR p.key = ANY ($2::text[])`
	// savePinsSQL pins each name to its key, changing a row only when the
	// key differs.
	savePinsSQL = `INSERT INTO tenantkit.tenant_pin AS p (name, key, pinned_by)
SELECT w.name, w.key, $3 FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS w(name, key)
ON CONFLICT (name) DO UPDATE SET key = EXCLUDED.key, pinned_by = EXCLUDED.pinned_by, pinned_at = pg_catalog.now()
WHERE p.key <> EXCLUDED.key`
	// renamedPinsSQL drops the pins of other names on the keys being pinned:
	// the tenant was renamed, and the file followed. Pins of a key to itself
	// (a file naming a tenant by key) stay.
	renamedPinsSQL = `DELETE FROM tenantkit.tenant_pin p
USING ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS w(name, key)
WHERE p.key = w.key AND p.name <> p.key AND w.name <> w.key AND NOT p.name = ANY ($1::text[])`
)

// Pin is a tenant name pinned to a key by a run.
type Pin struct {
	Name     string    `json:"name"`
	Key      string    `json:"key"`
	PinnedBy string    `json:"pinned_by"` // the run that pinned it: "aliases", "acl apply"
	PinnedAt time.Time `json:"pinned_at"`
}

// PinConflict is a name that resolves to another key than the one pinned.
type PinConflict struct {
	Pin
	// CurrentKey is the key the name resolves to now.
	CurrentKey string `json:"current_key"`
	// KeyNowNamed is the current name of the pinned key, when known: from
	// the names being resolved, or filled in by (*PinError).NameKeys. ""
	// when unknown.
	KeyNowNamed string `json:"key_now_named,omitempty"`
	// KeyGone: the pinned key names no tenant any more (set by NameKeys).
	KeyGone bool `json:"key_gone,omitempty"`
}

func (c PinConflict) String() string {
	var now string
	switch {
	case c.KeyGone:
		now = fmt.Sprintf(" (no tenant has key %s now)", c.Key)
	case c.KeyNowNamed != "":
		now = fmt.Sprintf(" (key %s is now named %q)", c.Key, c.KeyNowNamed)
	}
	return fmt.Sprintf("tenant %q is key %s now, but was key %s when %s pinned it on %s%s",
		c.Name, c.CurrentKey, c.Key, c.PinnedBy, c.PinnedAt.UTC().Format(time.DateOnly), now)
}

// PinError is returned by CheckPins when names resolve to other keys than
// the pinned ones: someone renamed tenants since the last run, and using
// the names as they are now would give one tenant's rows to another's
// users. Nothing has been changed.
type PinError struct {
	Conflicts []PinConflict // in name order
}

func (e *PinError) Error() string {
	parts := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		parts[i] = c.String()
	}
	return strings.Join(parts, "; ") + ": restore the names, or rerun with Options.Repin to accept the new ones"
}

// NameKeys fills in, from the tenant table, the current name of each
// conflict's pinned key (or that the key is gone), for the keys CheckPins
// could not name from the names it was given.
func (e *PinError) NameKeys(ctx context.Context, q Querier, tt *schema.TenantTable) error {
	var keys []string
	for _, c := range e.Conflicts {
		if c.KeyNowNamed == "" {
			keys = append(keys, c.Key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	key, name := sqlq.Ident(tt.Key), sqlq.Ident(tt.Name)
	rows, err := q.Query(ctx, fmt.Sprintf("SELECT t.%s::text, t.%s FROM %s t WHERE t.%s::text = ANY ($1::text[])", key, name, tt.Ident(), key), keys)
	if err != nil {
		return fmt.Errorf("reading the names of pinned tenants: %w", err)
	}
	names := map[string]string{}
	var k, n string
	if _, err := pgx.ForEachRow(rows, []any{&k, &n}, func() error { names[k] = n; return nil }); err != nil {
		return fmt.Errorf("reading the names of pinned tenants: %w", err)
	}
	for i := range e.Conflicts {
		c := &e.Conflicts[i]
		if c.KeyNowNamed != "" {
			continue
		}
		n, ok := names[c.Key]
		c.KeyNowNamed, c.KeyGone = n, !ok
	}
	return nil
}

// CheckPins compares the tenant names a run resolved — resolved maps each
// name a file used to the key it names now — with the pins earlier runs
// saved, and returns a *PinError listing each name now naming another key.
// Tenants a file names by key need no pin and may be left out of resolved;
// a caller may still pin such a reference to itself (resolved["4"] = "4"),
// since Lookup prefers names to keys and a tenant renamed "4" would take it
// over. A database without the pin table has no pins.
func CheckPins(ctx context.Context, q Querier, resolved map[string]string) error {
	if len(resolved) == 0 {
		return nil
	}
	var exists bool
	if err := q.QueryRow(ctx, pinTableExistsSQL).Scan(&exists); err != nil {
		return fmt.Errorf("reading tenant pins: %w", err)
	}
	if !exists {
		return nil
	}
	names, keys := pinArrays(resolved)
	rows, err := q.Query(ctx, pinsSQL, names, keys)
	if err != nil {
		return fmt.Errorf("reading tenant pins: %w", err)
	}
	pins, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Pin, error) {
		var p Pin
		return p, r.Scan(&p.Name, &p.Key, &p.PinnedBy, &p.PinnedAt)
	})
	if err != nil {
		return fmt.Errorf("reading tenant pins: %w", err)
	}
	nameOf := map[string]string{} // current key → name, among the resolved
	for n, k := range resolved {
		nameOf[k] = n
	}
	var e PinError
	for _, p := range pins {
		cur, ok := resolved[p.Name]
		if !ok || cur == p.Key {
			continue
		}
		e.Conflicts = append(e.Conflicts, PinConflict{Pin: p, CurrentKey: cur, KeyNowNamed: nameOf[p.Key]})
	}
	if len(e.Conflicts) == 0 {
		return nil
	}
	sort.Slice(e.Conflicts, func(i, j int) bool { return e.Conflicts[i].Name < e.Conflicts[j].Name })
	return &e
}

// Execer runs statements: a transaction (or a pool or connection, though
// SavePins belongs in the transaction of the run whose names it pins).
type Execer = sqlq.Execer

// SavePins pins each name of resolved to its key, recording by ("aliases",
// "acl apply") as the run that pinned it, in one statement; the table is
// created on first use. A pin already naming the same key is left as it is,
// so a rerun changes nothing; a name pinned to another key (accepted with
// --repin) is moved; pins of other names on the same keys (a tenant renamed)
// are dropped.
func SavePins(ctx context.Context, tx Execer, resolved map[string]string, by string) error {
	if len(resolved) == 0 {
		return nil
	}
	var exists bool
	if err := tx.QueryRow(ctx, pinTableExistsSQL).Scan(&exists); err != nil {
		return fmt.Errorf("saving tenant pins: %w", err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, pinSchemaLockSQL); err != nil {
			return fmt.Errorf("creating the tenant pin table: %w", err)
		}
		if _, err := tx.Exec(ctx, pinSchemaSQL); err != nil {
			return fmt.Errorf("creating the tenant pin table: %w", err)
		}
	}
	names, keys := pinArrays(resolved)
	if _, err := tx.Exec(ctx, renamedPinsSQL, names, keys); err != nil {
		return fmt.Errorf("saving tenant pins: %w", err)
	}
	if _, err := tx.Exec(ctx, savePinsSQL, names, keys, by); err != nil {
		return fmt.Errorf("saving tenant pins: %w", err)
	}
	return nil
}

// Pins returns every pin, in name order; none without the pin table.
func Pins(ctx context.Context, q Querier) ([]Pin, error) {
	var exists bool
	if err := q.QueryRow(ctx, pinTableExistsSQL).Scan(&exists); err != nil || !exists {
		return nil, err
	}
	rows, err := q.Query(ctx, "SELECT p.name, p.key, p.pinned_by, p.pinned_at FROM tenantkit.tenant_pin p ORDER BY p.name")
	if err != nil {
		return nil, fmt.Errorf("reading tenant pins: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Pin, error) {
		var p Pin
		return p, r.Scan(&p.Name, &p.Key, &p.PinnedBy, &p.PinnedAt)
	})
}

// pinArrays splits resolved into parallel arrays, in name order.
func pinArrays(resolved map[string]string) (names, keys []string) {
	for n := range resolved {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		keys = append(keys, resolved[n])
	}
	return names, keys
}
