// Package sqlq is tenantkit's one place for quoting SQL text: identifiers
// (Ident), which no statement takes as parameters, and string literals
// (Lit) for the statements PostgreSQL takes no parameters in (DDL such as
// CREATE ROLE, CREATE VIEW, COMMENT ON, ALTER ROLE SET) and for plans
// printed for a person to read or run.
//
// Values go as bound parameters wherever PostgreSQL allows them; these
// functions are for the places it does not. The package also declares the
// database interfaces every package takes (Querier, Execer, Beginner).
package sqlq

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// Ident quotes a possibly qualified identifier: Ident("public", "deal") is
// "public"."deal". Every part is quoted, so names from files, flags and the
// catalog can never change the statement's shape.
func Ident(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// Lit quotes s as a string literal that means s whatever the session's
// standard_conforming_strings says: a value with a backslash is written in
// the escape-string form E'…' with the backslashes doubled, which reads the
// same under both settings; any other value is a plain '…' literal. Quotes
// are doubled in both forms. A NUL byte cannot be part of a PostgreSQL text
// value; it is dropped.
func Lit(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		q = "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}

// ArrayText is the text form of a one-dimensional text[] holding items, as
// PostgreSQL prints it (so it compares equal to a column's ::text): an item
// is double-quoted, with backslashes and quotes escaped, when it is empty,
// NULL-like or holds a character the array syntax gives a meaning.
func ArrayText(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		if s != "" && !strings.EqualFold(s, "null") && !strings.ContainsAny(s, "{},\" \t\n\r\v\f\\") {
			quoted[i] = s
			continue
		}
		quoted[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return "{" + strings.Join(quoted, ",") + "}"
}
