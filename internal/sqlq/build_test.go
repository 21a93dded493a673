package sqlq_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/sqlq"
)

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []any
		want   []string
	}{
		{"none", nil, nil},
		{"one", []any{"x"}, []string{"$1"}},
		{"mixed", []any{"a", 2, nil, true, []string{"{x}"}}, []string{"$1", "$2", "$3", "$4", "$5"}},
		{"user text", []any{"$1", "%s", "{x}", "O'Brien"}, []string{"$1", "$2", "$3", "$4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a sqlq.Args
			var got []string
			for _, v := range tc.values {
				got = append(got, a.Add(v))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("placeholders %q, want %q", got, tc.want)
			}
			if fmt.Sprint([]any(a)) != fmt.Sprint(tc.values) || len(a) != len(tc.values) {
				t.Errorf("values %v, want %v", []any(a), tc.values)
			}
		})
	}
	var a sqlq.Args
	for i := 1; i <= 12; i++ {
		if got, want := a.Add(i), fmt.Sprintf("$%d", i); got != want {
			t.Fatalf("parameter %d: %s, want %s", i, got, want)
		}
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tmpl  string
		names sqlq.Names
		want  string
	}{
		{"no placeholders", "SELECT 1", nil, "SELECT 1"},
		{"one", "SELECT {col} FROM t", sqlq.Names{"col": `"a"`}, `SELECT "a" FROM t`},
		{"repeated", "{a} = {a} AND {b_2}", sqlq.Names{"a": "x", "b_2": "y"}, "x = x AND y"},
		{"empty value", "WHERE true{cond}", sqlq.Names{"cond": ""}, "WHERE true"},
		{"adjacent", "{a}{b}", sqlq.Names{"a": "1", "b": "2"}, "12"},
		{"other braces stay", `SELECT '{}', '{"vip": true}'::jsonb, '{1,2}', '{A}', '{ a}', '{a', {x}`, sqlq.Names{"x": "v"},
			`SELECT '{}', '{"vip": true}'::jsonb, '{1,2}', '{A}', '{ a}', '{a', v`},
		{"percent stays", "a % 3, %s, %[1]s, %%", nil, "a % 3, %s, %[1]s, %%"},
		{"value with a placeholder", "WHERE {cond} AND {other}", sqlq.Names{"cond": "x = '{other}'", "other": "y"}, "WHERE x = '{other}' AND y"},
		{"value naming itself", "{a}", sqlq.Names{"a": "{a}{a}"}, "{a}{a}"},
		{"value with $n, %s and quotes", "SELECT {v}", sqlq.Names{"v": `'$1' || $2 || '%s' || "q""x" || E'\'' -- {v}`},
			`SELECT '$1' || $2 || '%s' || "q""x" || E'\'' -- {v}`},
		{"value opening a brace", "{a}b}", sqlq.Names{"a": "{"}, "{b}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sqlq.Expand(tc.tmpl, tc.names); got != tc.want {
				t.Errorf("Expand(%q) = %q, want %q", tc.tmpl, got, tc.want)
			}
		})
	}
}

func TestExpandPanicsOnProgrammerErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tmpl  string
		names sqlq.Names
		want  string
	}{
		{"unknown name", "SELECT {col} FROM {tbl}", sqlq.Names{"col": "a"}, "{tbl}"},
		{"unused name", "SELECT {col}", sqlq.Names{"col": "a", "tbl": "t", "cond": ""}, "cond, tbl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if msg := fmt.Sprint(r); !strings.Contains(msg, tc.want) {
					t.Errorf("panic %q does not name %s", msg, tc.want)
				}
			}()
			sqlq.Expand(tc.tmpl, tc.names)
		})
	}
}

// FuzzExpand: whatever a value holds, it comes out exactly as it went in,
// in every place the template names it.
func FuzzExpand(f *testing.F) {
	for _, s := range append(hostile, "{a}", "{b}{", "}{a", "%[1]s", "$1") {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		got := sqlq.Expand("x {a} = {b}{a} '{}'", sqlq.Names{"a": a, "b": b})
		if want := "x " + a + " = " + b + a + " '{}'"; got != want {
			t.Fatalf("Expand with a=%q b=%q = %q, want %q", a, b, got, want)
		}
	})
}
