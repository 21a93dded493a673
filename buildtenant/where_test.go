package buildtenant

import (
	"strings"
	"testing"
)

func TestCheckCondition(t *testing.T) {
	tests := []struct {
		cond string
		want string // "" = accepted
	}{
		{"inactive = 0", ""},
		{"(a = 1) AND (b = 2 OR (c IS NULL))", ""},
		{"name = 'O''Brien (x'", ""},
		{`"weird)col" = 1`, ""},
		{`name = E'it\'s ) here'`, ""},
		{"name = $$ ) ; $$", ""},
		{"name = $tag$ ) $ ; $tag$", ""},
		{"id = ANY ('{1,2}') -- a comment with ) and ;", ""},
		{"id = 1 /* a ) comment /* nested ; */ still */", ""},
		{"note LIKE 'a;b'", ""},
		{"x$y = 1", ""},
		{"true) OR (false", `unbalanced ")" at offset 5`},
		{"true) UNION SELECT (1", `unbalanced ")" at offset 5`},
		{"(a = 1", `1 unclosed "("`},
		{"x = 1; DROP TABLE t", `";" is not allowed: give one condition, not statements`},
		{"name = 'open", "unterminated quoted text starting at offset 8"},
		{`"open = 1`, "unterminated quoted text starting at offset 1"},
		{`name = E'x\'`, "unterminated quoted text starting at offset 9"},
		{"name = $q$ x", "unterminated $q$ quote starting at offset 8"},
		{"id = 1 /* open", "unterminated comment starting at offset 8"},
	}
	for _, tt := range tests {
		err := checkCondition(tt.cond)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("checkCondition(%q) = %q, want %q", tt.cond, got, tt.want)
		}
	}
}

// FuzzCheckCondition: an accepted condition never closes the parenthesis it
// is wrapped in early, nor holds a statement separator outside quotes. The
// check is approximated here by the scanner's invariants: it never panics,
// and accepting a condition implies that appending ")" is rejected.
func FuzzCheckCondition(f *testing.F) {
	for _, s := range []string{"inactive = 0", "a = 'x'' )'", `"a""b" = $$)$$`, "x -- c", "/* ( */ y", "E'\\''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cond string) {
		if checkCondition(cond) != nil {
			return
		}
		if strings.Contains(cond, "--") || strings.Contains(cond, "/*") || strings.ContainsAny(cond, "'\"$") {
			return // the appended ")" may sit inside a comment or quote
		}
		if checkCondition(cond+")") == nil {
			t.Fatalf("%q accepted, and so is %q", cond, cond+")")
		}
	})
}
