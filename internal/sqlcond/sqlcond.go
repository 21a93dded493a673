// Package sqlcond checks SQL conditions taken from configuration files
// (the <Where> of settenant and buildtenant) before they are pasted into a
// statement: wrapped in parentheses, a condition must stay one expression.
// When a statement using configured SQL fails, Refusal, DataFailure and
// Probe tell whether the configuration is to blame (exit 2) rather than
// the database.
package sqlcond

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// Check makes sure a Where condition stays a single, parameter-free
// expression once it is wrapped in parentheses inside a larger statement:
// its parentheses balance, it holds no ';' and no $n parameter, and its
// strings, quoted identifiers and comments are closed. It reads SQL the way
// PostgreSQL does with standard_conforming_strings on, which callers must set
// for the session running the statement; what the condition means is left to
// the server. Callers put it into a statement with Wrap.
func Check(s string) error {
	depth := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '-' && strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				j = len(s) - i - 1 // a comment to the end; the wrapper adds the newline
			}
			i += j + 1
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			n, err := skipBlockComment(s[i:])
			if err != nil {
				return err
			}
			i += n
		case c == '\'':
			escapes := i > 0 && (s[i-1] == 'E' || s[i-1] == 'e') && (i < 2 || !isIdentChar(s[i-2]))
			n, err := skipString(s[i:], escapes)
			if err != nil {
				return err
			}
			i += n
		case c == '"':
			n, err := skipQuotedIdent(s[i:])
			if err != nil {
				return err
			}
			i += n
		case c == '$' && (i == 0 || !isIdentChar(s[i-1])):
			n, err := skipDollar(s[i:])
			if err != nil {
				return err
			}
			i += n
		case isIdentChar(c):
			for i < len(s) && (isIdentChar(s[i]) || s[i] == '$') {
				i++
			}
		default:
			switch c {
			case '(':
				depth++
			case ')':
				if depth == 0 {
					return errors.New("a ')' closes a parenthesis the condition did not open")
				}
				depth--
			case ';':
				return errors.New("the condition contains ';': <Where> takes one SQL condition, not statements")
			}
			i++
		}
	}
	if depth > 0 {
		return fmt.Errorf("%d '(' left unclosed", depth)
	}
	return nil
}

// Wrap puts a condition into a statement the one way tenantkit does: in
// parentheses, on lines of its own, so that a trailing -- comment ends
// before the closing parenthesis. A condition from a configuration file is
// checked with Check first.
func Wrap(cond string) string { return "(\n" + cond + "\n)" }

// isIdentChar reports whether c may continue an SQL identifier or keyword
// (any non-ASCII byte counts, as in PostgreSQL's scanner).
func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func skipBlockComment(s string) (int, error) {
	depth := 0
	for i := 0; i+1 < len(s); {
		switch s[i : i+2] {
		case "/*":
			depth++
			i += 2
		case "*/":
			depth--
			i += 2
			if depth == 0 {
				return i, nil
			}
		default:
			i++
		}
	}
	return 0, errors.New("a /* comment is not closed")
}

// skipString skips a '…' literal; with escapes (E'…') a backslash quotes
// the next character.
func skipString(s string, escapes bool) (int, error) {
	for i := 1; i < len(s); i++ {
		switch {
		case escapes && s[i] == '\\':
			i++
		case s[i] == '\'':
			if i+1 < len(s) && s[i+1] == '\'' {
				i++
				continue
			}
			return i + 1, nil
		}
	}
	return 0, errors.New("a string literal is not closed")
}

func skipQuotedIdent(s string) (int, error) {
	for i := 1; i < len(s); i++ {
		if s[i] == '"' {
			if i+1 < len(s) && s[i+1] == '"' {
				i++
				continue
			}
			return i + 1, nil
		}
	}
	return 0, errors.New(`a quoted identifier ("…) is not closed`)
}

// skipDollar skips a $tag$…$tag$ literal and rejects $n parameters. A '$'
// that starts neither is left to the server.
func skipDollar(s string) (int, error) {
	if len(s) > 1 && s[1] >= '0' && s[1] <= '9' {
		return 0, errors.New("the condition uses a parameter ($n); write the value into it")
	}
	j := 1
	for j < len(s) && s[j] != '$' && isIdentChar(s[j]) {
		j++
	}
	if j >= len(s) || s[j] != '$' {
		return 1, nil
	}
	tag := s[:j+1]
	end := strings.Index(s[j+1:], tag)
	if end < 0 {
		return 0, fmt.Errorf("a dollar-quoted string (%s) is not closed", tag)
	}
	return j + 1 + end + len(tag), nil
}

// serverClasses are the SQLSTATE classes of failures that are the
// server's or the session's, not the configured SQL's: connection loss,
// transaction state, deadlock and serialization, resources, lock waits,
// cancellation and shutdown, system and internal errors.
var serverClasses = []string{"08", "25", "40", "53", "55", "57", "58", "XX"}

// Refusal returns the server's error when err is the server refusing
// configured SQL (a <Where> condition, a mapped attribute) while parsing,
// analysing or evaluating it: a wrong name, a wrong type, a constant
// that does not convert ('x' compared with an integer column), a division
// by zero… Such an error is bad configuration (exit 2), not a database
// failure. It returns nil for every other error.
func Refusal(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || slices.Contains(serverClasses, pe.Code[:min(2, len(pe.Code))]) {
		return nil
	}
	return pe
}

// DataFailure returns the server's error when err is a data exception
// (SQLSTATE class 22: a value that does not convert, a division by
// zero…), which a condition that validated can still raise on some row
// when a statement runs; nil otherwise.
func DataFailure(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || !strings.HasPrefix(pe.Code, "22") {
		return nil
	}
	return pe
}

// Probe tells whether a condition on table (a quoted, schema-qualified
// name) fails on the table's rows: it counts the rows the condition
// selects, in a transaction (or savepoint) of db, and returns the server's error, or nil
// when the condition evaluates on every row. Called after a statement
// using the condition failed with a data exception, it tells whether the
// condition is to blame. A failure that is not the server refusing the
// condition is returned in second place.
func Probe(ctx context.Context, db Beginner, table, cond string) (*pgconn.PgError, error) {
	err := sqlq.Savepoint(ctx, db, func(sp pgx.Tx) error {
		var n int64
		return sp.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE "+Wrap(cond)).Scan(&n)
	})
	if err == nil {
		return nil, nil
	}
	if pe := Refusal(err); pe != nil {
		return pe, nil
	}
	return nil, err
}

// Beginner opens a transaction, or a savepoint of one: a connection, a
// pool or a pgx.Tx.
type Beginner = sqlq.Beginner
