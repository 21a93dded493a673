package extract

import "testing"

func TestFirstWord(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                     "SELECT",
		"  \n(select 1)":               "select",
		"-- note\n/* x */ WITH a AS (": "WITH",
		"/* unterminated":              "",
		"-- only a comment":            "",
		"delete from t":                "delete",
		"VALUES(1)":                    "VALUES",
		"":                             "",
	} {
		if got := firstWord(in); got != want {
			t.Errorf("firstWord(%q) = %q, want %q", in, got, want)
		}
	}
}
