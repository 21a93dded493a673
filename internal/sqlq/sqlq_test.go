package sqlq_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

var hostile = []string{
	"",
	"plain",
	"O'Brien",
	`back\slash`,
	`Globex\', 1, 2, true, 1); ALTER ROLE x SUPERUSER; --`,
	`\'`,
	`'\`,
	`\\'';`,
	"new\nline\ttab",
	"Société Générale ☃",
	`$$ dollar $$`,
	`E'x'`,
}

func TestLitShape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "''"},
		{"a", "'a'"},
		{"O'Brien", "'O''Brien'"},
		{`a\b`, `E'a\\b'`},
		{`\'`, `E'\\'''`},
		{"a\x00b", "'ab'"},
	} {
		if got := sqlq.Lit(tc.in); got != tc.want {
			t.Errorf("Lit(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := sqlq.Ident("public", `we"ird`); got != `"public"."we""ird"` {
		t.Errorf("Ident = %s", got)
	}
}

// TestLitRoundTripsUnderEitherSetting reads every literal back through the
// server's own parser, with standard_conforming_strings on and off.
func TestLitRoundTripsUnderEitherSetting(t *testing.T) {
	ctx := context.Background()
	db := testkit.NewDB(t)
	for _, scs := range []string{"on", "off"} {
		conn, err := db.Pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "SET standard_conforming_strings = "+scs+"; SET escape_string_warning = off"); err != nil {
			t.Fatal(err)
		}
		for _, s := range hostile {
			var got string
			err := conn.QueryRow(ctx, "SELECT "+sqlq.Lit(s)+"::text").Scan(&got)
			if err != nil {
				t.Errorf("scs=%s: %q: %v", scs, s, err)
				continue
			}
			if got != s {
				t.Errorf("scs=%s: literal of %q reads back as %q", scs, s, got)
			}
		}
		conn.Exec(ctx, "RESET standard_conforming_strings")
		conn.Release()
	}
}

func FuzzLit(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := sqlq.Lit(s)
		// The literal closes exactly once, at its end: every quote inside is
		// doubled and, in the E form, every backslash too.
		body := q[1 : len(q)-1]
		if q[0] == 'E' {
			body = q[2 : len(q)-1]
		}
		for i := 0; i < len(body); i++ {
			switch body[i] {
			case '\'':
				if i+1 >= len(body) || body[i+1] != '\'' {
					t.Fatalf("Lit(%q) = %s: lone quote", s, q)
				}
				i++
			case '\\':
				if q[0] != 'E' || i+1 >= len(body) || body[i+1] != '\\' {
					t.Fatalf("Lit(%q) = %s: lone backslash", s, q)
				}
				i++
			}
		}
	})
}

// TestArrayTextIsPostgreSQLs: the text form matches what the server prints
// for the same text[], and reads back as the same items.
func TestArrayTextIsPostgreSQLs(t *testing.T) {
	ctx := context.Background()
	db := testkit.NewDB(t)
	for _, items := range [][]string{{}, {"a"}, {"a", "b c"}, {"", "NULL", "null"}, hostile, {`Acme\Users`, `{x}`, `"q"`, "tab\tx", "Société"}} {
		var printed string
		var back []string
		if err := db.Pool.QueryRow(ctx, "SELECT $1::text[]::text, $2::text[]", items, sqlq.ArrayText(items)).Scan(&printed, &back); err != nil {
			t.Fatal(err)
		}
		if got := sqlq.ArrayText(items); got != printed {
			t.Errorf("ArrayText(%q) = %s, PostgreSQL prints %s", items, got, printed)
		}
		if strings.Join(back, "\x00") != strings.Join(items, "\x00") || len(back) != len(items) {
			t.Errorf("ArrayText(%q) reads back as %q", items, back)
		}
	}
}
