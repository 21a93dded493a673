package aliases

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/fault"
)

func TestParseGood(t *testing.T) {
	type acct struct {
		Name, Login, Password string
		All                   bool
		Tenants               []string
		TimeZone              string
	}
	tests := []struct {
		name   string
		src    string
		schema string
		want   []acct
	}{
		{
			name: "the documented form",
			src: `(gim-user-schema public)
(aliases-for-account name: Acme login: "acme_ro" password: "s3cret" (tenants: 4 5) (time-zone: Europe/Paris))
(aliases-for-account name: All login: "ops_ro" password: "x" (tenants: all))
`,
			schema: "public",
			want: []acct{
				{"Acme", "acme_ro", "s3cret", false, []string{"4", "5"}, "Europe/Paris"},
				{"All", "ops_ro", "x", true, nil, ""},
			},
		},
		{
			name: "bare words, tenant:, no name, comments, a form over several lines, CRLF",
			src:  "# a comment\r\n; another\r\n(aliases-for-account login: ro1 password: pw:1\r\n   (tenant: 7))\r\n",
			want: []acct{{"ro1", "ro1", "pw:1", false, []string{"7"}, ""}},
		},
		{
			name: "quoted values with escapes, spaces and non-ASCII; quoted all is a tenant name",
			src:  `(aliases-for-account name: "Société Générale" login: "Ro User" password: "a \"b\" \\ c é" (tenants: "Acme EU" "all" 3) (time-zone: "America/New_York"))`,
			want: []acct{{"Société Générale", "Ro User", `a "b" \ c é`, false, []string{"Acme EU", "all", "3"}, "America/New_York"}},
		},
		{
			name: "fields in any order, byte order mark, no gim-user-schema",
			src:  "\uFEFF(aliases-for-account (tenants: all) password: p login: l name: n)",
			want: []acct{{"n", "l", "p", true, nil, ""}},
		},
		{name: "empty file", src: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("a.txt", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if f.SourceSchema != tt.schema {
				t.Errorf("schema = %q, want %q", f.SourceSchema, tt.schema)
			}
			var got []acct
			for _, a := range f.Accounts {
				g := acct{a.Name, a.Login.Text, a.Password.Text, a.AllTenants, nil, a.TimeZone.Text}
				for _, v := range a.Tenants {
					g.Tenants = append(g.Tenants, v.Text)
				}
				got = append(got, g)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("accounts =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParsePositions(t *testing.T) {
	f, err := Parse("a.txt", []byte("(gim-user-schema s)\n  (aliases-for-account login: é password: p (tenants: x \"y z\") (time-zone: UTC))"))
	if err != nil {
		t.Fatal(err)
	}
	a := f.Accounts[0]
	if a.Pos != (Pos{2, 3}) || a.Login.Pos != (Pos{2, 31}) || a.Tenants[1].Pos != (Pos{2, 57}) || a.TimeZone.Pos != (Pos{2, 76}) || f.SourceSchemaPos != (Pos{1, 18}) {
		t.Errorf("positions: account %v login %v tenant %v tz %v schema %v", a.Pos, a.Login.Pos, a.Tenants[1].Pos, a.TimeZone.Pos, f.SourceSchemaPos)
	}
}

func TestParseErrors(t *testing.T) {
	const ok = ` password: p (tenants: 1))`
	tests := []struct{ name, src, want string }{
		{"unclosed account", "(aliases-for-account login: a password: p (tenants: 1)\n", "a.txt:1:1: unbalanced parentheses: this ( is never closed"},
		{"unclosed tenants", "(aliases-for-account login: a password: p (tenants: 1", "a.txt:1:43: unbalanced parentheses"},
		{"stray close", "(aliases-for-account login: a" + ok + ")", "a.txt:1:56: unbalanced parentheses: ) closes nothing"},
		{"missing password", "\n(aliases-for-account login: a (tenants: 1))", "a.txt:2:1: aliases-for-account: missing password:"},
		{"missing login", "(aliases-for-account password: a (tenants: 1))", "a.txt:1:1: aliases-for-account: missing login:"},
		{"missing tenants", "(aliases-for-account login: a password: p)", "a.txt:1:1: aliases-for-account: missing tenants:"},
		{"duplicate login", "(aliases-for-account login: a" + ok + "\n(aliases-for-account login: \"a\"" + ok, `a.txt:2:29: duplicate login "a" (first given at line 1)`},
		{"duplicate keyword", "(aliases-for-account login: a login: b" + ok, "a.txt:1:31: login: given twice"},
		{"tenant and tenants", "(aliases-for-account login: a password: p (tenant: 1) (tenants: 2))", "a.txt:1:56: tenants: given twice"},
		{"password without value", "(aliases-for-account login: a password: (tenants: 1))", "a.txt:1:41: password: needs a value, found ("},
		{"keyword as value", "(aliases-for-account login: password: p (tenants: 1))", "a.txt:1:29: login: needs a value before password:"},
		{"unknown keyword", "(aliases-for-account login: a passwd: p (tenants: 1))", `a.txt:1:31: unknown keyword "passwd:"`},
		{"unknown form", "(alias-for-account login: a)", `a.txt:1:2: unknown form "alias-for-account"`},
		{"unknown sub-form", "(aliases-for-account login: a password: p (tenantz: 1))", `a.txt:1:44: expected tenants: or time-zone: after (, found (a value on the password's line, not shown)`},
		{"unknown sub-form on its own line", "(aliases-for-account login: a password: p\n (tenantz: 1))", `a.txt:2:3: expected tenants: or time-zone: after (, found "tenantz:"`},
		{"all with ids", "(aliases-for-account login: a password: p (tenants: 1 all))", "a.txt:1:55: all cannot be combined"},
		{"no tenants", "(aliases-for-account login: a password: p (tenants: ))", "a.txt:1:53: tenants: needs at least one"},
		{"empty password", `(aliases-for-account login: a password: ""` + " (tenants: 1))", "a.txt:1:41: empty password"},
		{"unterminated string", "(aliases-for-account login: \"a\n" + ok, "a.txt:1:29: unterminated string"},
		{"unknown escape", `(aliases-for-account login: "a\n"`, `a.txt:1:31: unknown escape \n`},
		{"invalid UTF-8", "(aliases-for-account login: a\xff" + ok, "a.txt:1:30: invalid UTF-8"},
		{"reserved login", "(aliases-for-account login: pg_x" + ok, `a.txt:1:29: login "pg_x": names starting with pg_ are reserved`},
		{"long login", "(aliases-for-account login: " + strings.Repeat("x", 64) + ok, "a.txt:1:29: login \"xxxx"},
		{"schema twice", "(gim-user-schema a)\n(gim-user-schema b)", "a.txt:2:2: gim-user-schema given twice"},
		{"schema after accounts", "(aliases-for-account login: a" + ok + "\n(gim-user-schema b)", "a.txt:2:2: gim-user-schema must come before"},
		{"schema without close", "(gim-user-schema a b)", `a.txt:1:20: expected ) to close (gim-user-schema, found "b"`},
		{"text outside forms", "aliases-for-account", `a.txt:1:1: expected ( to start a form, found "aliases-for-account"`},
		{"time zone with two values", "(aliases-for-account login: a password: p (tenants: 1) (time-zone: A B))", `a.txt:1:70: expected ) to close (time-zone:, found (a value on the password's line, not shown)`},
		{"control character", "(aliases-for-account login: a\x01b" + ok, "a.txt:1:30: control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("a.txt", []byte(tt.src))
			var fe *fault.PosError
			if !errors.As(err, &fe) {
				t.Fatalf("error = %v, want a *fault.PosError", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error =\n%s\nwant prefix\n%s", err, tt.want)
			}
		})
	}
}

// FuzzParse: the parser never panics, errors carry a position inside the
// file, and whatever it accepts has a login, a password and tenants. Each
// input is also parsed with a password line spliced in after its first
// line: "password: " + the line's text (no newline) + a marker word + the
// rest; no error may then show the marker, which stands in the password or
// after it on its line.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`(aliases-for-account name: A login: "a" password: "p\"" (tenants: 1 "x y") (time-zone: UTC))`))
	f.Add([]byte("(aliases-for-account login: a\nhunter2 (tenants: 1))"))
	f.Add([]byte("(aliases-for-account login: a\n\"hunter2 \\x (tenants: 1))"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, data)
		pre, rest, _ := strings.Cut(string(data), "\n")
		mid, post, _ := strings.Cut(rest, "\n")
		const marker = "Zq7Marker"
		spliced := pre + "\npassword: " + mid + marker + " " + post
		if strings.Contains(pre, marker) || strings.Contains(post, marker) {
			return
		}
		_, err := Parse("f", []byte(spliced))
		if err != nil && strings.Contains(err.Error(), marker) {
			t.Fatalf("the error shows the password's line:\n%s\ninput:\n%s", err, spliced)
		}
		_, err = Parse("f", []byte(pre+"\npassword: "+marker+" "+mid+"\n"+post))
		if err != nil && strings.Contains(err.Error(), marker) {
			t.Fatalf("the error shows the password:\n%s", err)
		}
	})
}

// checkParse: an error is a *fault.PosError positioned inside data; an accepted
// file's accounts are complete.
func checkParse(t *testing.T, data []byte) {
	t.Helper()
	file, err := Parse("f", data)
	if err != nil {
		var fe *fault.PosError
		if !errors.As(err, &fe) {
			t.Fatalf("error %v is not a *fault.PosError", err)
		}
		if fe.Line < 1 || fe.Column < 1 || fe.Line > strings.Count(string(data), "\n")+1 {
			t.Fatalf("error position %d:%d outside the input: %v", fe.Line, fe.Column, err)
		}
		return
	}
	for _, a := range file.Accounts {
		if a.Login.Text == "" || a.Password.Text == "" || !a.AllTenants && len(a.Tenants) == 0 {
			t.Fatalf("accepted an incomplete account: %+v", a)
		}
	}
}

// TestParseErrorsHidePassword: a mistake on a password's line is reported at
// its position without showing the password or anything after it on the
// line (a password with a blank runs on into the next words).
func TestParseErrorsHidePassword(t *testing.T) {
	const head = "(aliases-for-account login: a "
	tests := []struct{ name, src, want string }{
		{"unquoted password with a blank", head + "password: hunter2 SecretTail99 (tenants: 1))", "a.txt:1:49: expected a keyword"},
		{"password then a word ending in a colon", head + "password: hunter2 SecretTail99: (tenants: 1))", "a.txt:1:49: unknown keyword (a value on the password's line, not shown)"},
		{"quoted password then garbage", head + `password: "hunter2"SecretTail99 (tenants: 1))`, "a.txt:1:50: expected a keyword"},
		{"quoted password then a string", head + `password: "hunter2" "SecretTail99" (tenants: 1))`, "a.txt:1:51: expected a keyword"},
		{"unterminated quoted password", head + `password: "hunter2 SecretTail99` + "\n(tenants: 1))", "a.txt:1:41: unterminated string"},
		{"unterminated at the end of the file", head + `password: "hunter2 SecretTail99`, "a.txt:1:41: unterminated string"},
		{"unknown escape in the password", head + `password: "hunter2\SecretTail99" (tenants: 1))`, "a.txt:1:49: unknown escape in a string on the password's line"},
		{"unknown escape after the password", head + `password: hunter2 (tenants: "x\SecretTail99"))`, "a.txt:1:61: unknown escape in a string on the password's line"},
		{"control character in the password", head + "password: hunter2\x01SecretTail99 (tenants: 1))", "a.txt:1:48: control character in a bare word on the password's line"},
		{"control character after the password", head + "password: hunter2 (tenants: SecretTail99\x02))", "a.txt:1:71: control character in a bare word on the password's line"},
		{"missing closing parenthesis", head + "password: hunter2 SecretTail99", "a.txt:1:49: expected a keyword"},
		{"missing closing parenthesis after tenants", head + "password: hunter2 (tenants: 1) SecretTail99", "a.txt:1:62: expected a keyword"},
		{"password value on the next line", head + "password:\n  hunter2 SecretTail99 (tenants: 1))", "a.txt:2:11: expected a keyword"},
		{"garbage after the form", head + "password: hunter2 (tenants: 1)) SecretTail99", "a.txt:1:63: expected ( to start a form, found (a value"},
		{"an unknown form after the form", head + "password: hunter2 (tenants: 1)) (SecretTail99 x)", "a.txt:1:64: unknown form (a value"},
		{"an unknown sub-form", head + "password: hunter2 (SecretTail99: 1))", "a.txt:1:50: expected tenants: or time-zone: after (, found (a value"},
		{"a bad tenant list", head + "password: hunter2 (tenants: 1 (SecretTail99)))", "a.txt:1:61: expected a tenant name or key, found ("},
		{"time zone with two values", head + "password: hunter2 (tenants: 1) (time-zone: UTC SecretTail99))", "a.txt:1:78: expected ) to close (time-zone:, found (a value"},
		{"login after the password, duplicated", head + "password: p (tenants: 1))\n(aliases-for-account password: hunter2 login: SecretTail99 login: b (tenants: 1))", "a.txt:2:60: login: given twice"},
		{"duplicate login after the password", "(aliases-for-account login: SecretTail99 password: p (tenants: 1))\n(aliases-for-account password: hunter2 login: SecretTail99 (tenants: 1))", "a.txt:2:47: duplicate login (a value on the password's line, not shown) (first given at line 1)"},
		{"reserved login after the password", "(aliases-for-account password: hunter2 login: pg_SecretTail99 (tenants: 1))", "a.txt:1:47: login (a value on the password's line, not shown): names starting with pg_"},
		{"long login after the password", "(aliases-for-account password: hunter2 login: SecretTail99" + strings.Repeat("x", 60) + " (tenants: 1))", "a.txt:1:47: login (a value on the password's line, not shown) is longer"},
		{"the password as a tenant", head + "password: (tenants: hunter2 SecretTail99))", "a.txt:1:41: password: needs a value, found ("},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("a.txt", []byte(tt.src))
			var fe *fault.PosError
			if !errors.As(err, &fe) {
				t.Fatalf("error = %v, want a *fault.PosError", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error =\n%s\nwant prefix\n%s", err, tt.want)
			}
			for _, secret := range []string{"hunter2", "SecretTail99", "Tail", "U+0001", "U+0002", `\S`} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows %q: %s", secret, err)
				}
			}
		})
	}
}
