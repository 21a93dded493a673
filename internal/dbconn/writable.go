package dbconn

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// ReadOnly says why the session cannot write, "" when it can: a standby
// (hot standby replica in recovery) or a read-only session
// (default_transaction_read_only). Checks that preview changes in
// temporary tables and roll back need a writable session too.
func ReadOnly(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (string, error) {
	var standby, readOnly bool
	err := q.QueryRow(ctx, "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')::bool").Scan(&standby, &readOnly)
	switch {
	case err != nil:
		return "", err
	case standby:
		return "the server is a standby in recovery", nil
	case readOnly:
		return "the session is read-only (default_transaction_read_only)", nil
	}
	return "", nil
}
