package sqlcond

import (
	"strings"
	"testing"
)

var conditionTests = []struct {
	cond string
	want string // "" = accepted; else a part of the error
}{
	{"tenant is null", ""},
	{"(a = 1) AND (b IN (1, 2))", ""},
	{"name = 'it''s; (not'", ""},
	{"name = E'back\\'slash ) ;'", ""},
	{"name = e'x\\\\' AND b", ""},
	{"name = 'plain\\' AND (b)", ""}, // standard strings: the backslash is a character
	{`"odd ""col"" (;" = 1`, ""},
	{"x = $$ ; ) $$ AND y = $tag$ ( $tag$", ""},
	{"a$1 = 2", ""}, // an identifier, not a parameter
	{"a = 1 -- ; ) comment", ""},
	{"a = 1 /* ; ( /* nested ) */ */", ""},
	{"a = 1\n-- trailing\nAND b = 2", ""},
	{"a = 1; DROP TABLE x", "contains ';'"},
	{"a = 1) OR (true", "closes a parenthesis"},
	{"(a = 1", "1 '(' left unclosed"},
	{"(a = 1 -- comment", "1 '(' left unclosed"},
	{"a = $1", "parameter"},
	{"a = 'open", "string literal is not closed"},
	{`"open = 1`, "quoted identifier"},
	{"a = 1 /* open", "comment is not closed"},
	{"a = $x$ open", "dollar-quoted string ($x$) is not closed"},
	{"Ünïcode = 'ü'", ""},
}

func TestCheck(t *testing.T) {
	for _, tt := range conditionTests {
		err := Check(tt.cond)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Check(%q) = %v, want nil", tt.cond, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Check(%q) = %v, want an error containing %q", tt.cond, err, tt.want)
		}
	}
}

// FuzzCheck checks that an accepted condition stays inside the
// parentheses Wrap puts it in: wrapping and checking again still passes,
// and the checker never panics.
func FuzzCheck(f *testing.F) {
	for _, tt := range conditionTests {
		f.Add(tt.cond)
	}
	f.Fuzz(func(t *testing.T, cond string) {
		if Check(cond) != nil {
			return
		}
		if err := Check(Wrap(cond)); err != nil {
			t.Fatalf("%q accepted, but not once wrapped: %v", cond, err)
		}
		if err := Check(Wrap(cond) + ") OR (x"); err == nil {
			t.Fatalf("%q accepted, and an extra ')' after it went unnoticed", cond)
		}
	})
}
