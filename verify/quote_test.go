package verify

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzQuoteValue: a sample value is either shown bare — and then it is
// exactly the value, with no blank, quote or control character — or quoted
// Go-style, and then it unquotes to the value.
func FuzzQuoteValue(f *testing.F) {
	for _, s := range []string{"", "42", "a b", `O"Brien`, "x\ny", "back\\slash", "Société", "00000000-0000-0000-0000-000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := quoteValue(&s)
		if strings.HasPrefix(q, `"`) {
			u, err := strconv.Unquote(q)
			if err != nil || u != s {
				t.Fatalf("quoteValue(%q) = %s, unquotes to %q, %v", s, q, u, err)
			}
			return
		}
		if q != s || s == "" || strings.ContainsAny(s, " \t\n\r\"'\\=") {
			t.Fatalf("quoteValue(%q) = %s shown bare", s, q)
		}
	})
}
