package aliases

import (
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tenantkit/tenantkit/internal/fault"
)

// maxIdentifierBytes is PostgreSQL's NAMEDATALEN-1: longer names are
// silently truncated by the server, so they are refused here.
const maxIdentifierBytes = 63

// File is a parsed alias file.
type File struct {
	// Path names the file in error messages.
	Path string
	// SourceSchema is the schema the views read from, from the optional
	// (gim-user-schema NAME) form; "" means the default.
	SourceSchema    string
	SourceSchemaPos Pos
	// Accounts in file order.
	Accounts []*Account
}

// Pos is a position in the file: 1-based line and column (in characters).
type Pos struct {
	Line int
	Col  int
}

// Value is a word or quoted string of the file with its position.
type Value struct {
	Text   string
	Pos    Pos
	Quoted bool
	// Secret: the value stands on a password's line, after its password:
	// keyword, so messages never show it (a password mistyped with a blank
	// runs on into the following words).
	Secret bool
}

// Quote is the value for a message: quoted, or for a secret one a phrase
// saying it is not shown.
func (v Value) Quote() string {
	if v.Secret {
		return secretValue
	}
	return fmt.Sprintf("%q", v.Text)
}

// secretValue describes, in messages, a token messages must not show.
const secretValue = "(a value on the password's line, not shown)"

// Account is one (aliases-for-account …) form: a login role with its schema
// of views showing its tenants' rows.
type Account struct {
	Pos Pos
	// Name labels the account; it defaults to the login.
	Name  string
	Login Value
	// Password is the login's password in clear; tenantkit sends only its
	// SCRAM-SHA-256 verifier to the server.
	Password Value
	// AllTenants is (tenants: all): the views show every row.
	AllTenants bool
	// Tenants are tenant names or keys, as written.
	Tenants []Value
	// TimeZone is the role's session time zone; Text is "" when not given.
	TimeZone Value
}

// errorf reports a mistake in the alias file at p.
func (f *File) errorf(p Pos, format string, args ...any) *fault.PosError {
	return fault.At(f.Path, p.Line, p.Col, format, args...)
}

// ParseFile reads and parses an alias file.
func ParseFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading alias file: %w", err)
	}
	return Parse(path, data)
}

// The forms and keywords of the format.
const (
	formSchema  = "gim-user-schema"
	formAccount = "aliases-for-account"
	kwName      = "name:"
	kwLogin     = "login:"
	kwPassword  = "password:"
	kwTenant    = "tenant:"
	kwTenants   = "tenants:"
	kwTimeZone  = "time-zone:"
	wordAll     = "all"
)

var keywords = map[string]bool{kwName: true, kwLogin: true, kwPassword: true, kwTenant: true, kwTenants: true, kwTimeZone: true}

// Parse parses the alias file held in data, naming it file in errors:
//
//	(gim-user-schema NAME)       optional, first
//	(aliases-for-account name: UNAME login: "LOGIN" password: "PWD" (tenants: ID… | all) (time-zone: TZ))
//
// Values are bare words or double-quoted strings (with \" and \\); lines
// whose first character is # or ; are comments. A form may span lines.
func Parse(file string, data []byte) (*File, error) {
	f := &File{Path: file}
	lx := &lexer{f: f, src: data, line: 1, col: 1}
	logins := map[string]Pos{}
	for {
		tok, err := lx.next()
		if err != nil {
			return nil, err
		}
		switch tok.kind {
		case tokEOF:
			return f, nil
		case tokClose:
			return nil, f.errorf(tok.pos, "unbalanced parentheses: ) closes nothing")
		case tokOpen:
		default:
			return nil, f.errorf(tok.pos, "expected ( to start a form, found %s", tok.describe())
		}
		head, err := lx.next()
		if err != nil {
			return nil, err
		}
		switch {
		case head.kind == tokWord && head.text == formSchema:
			if err := parseSchemaForm(lx, tok, head); err != nil {
				return nil, err
			}
		case head.kind == tokWord && head.text == formAccount:
			a, err := parseAccount(lx, tok)
			if err != nil {
				return nil, err
			}
			if first, dup := logins[a.Login.Text]; dup {
				return nil, f.errorf(a.Login.Pos, "duplicate login %s (first given at line %d)", a.Login.Quote(), first.Line)
			}
			logins[a.Login.Text] = a.Login.Pos
			f.Accounts = append(f.Accounts, a)
		case head.kind == tokEOF:
			return nil, f.errorf(tok.pos, "unbalanced parentheses: this ( is never closed")
		default:
			return nil, f.errorf(head.pos, "unknown form %s: expected %s or %s", head.describe(), formAccount, formSchema)
		}
	}
}

func parseSchemaForm(lx *lexer, open, head token) error {
	f := lx.f
	if f.SourceSchema != "" {
		return f.errorf(head.pos, "%s given twice (first at line %d)", formSchema, f.SourceSchemaPos.Line)
	}
	if len(f.Accounts) > 0 {
		return f.errorf(head.pos, "%s must come before the first %s", formSchema, formAccount)
	}
	v, err := lx.value(formSchema, open)
	if err != nil {
		return err
	}
	if err := checkIdentifier(f, v, "schema name"); err != nil {
		return err
	}
	f.SourceSchema, f.SourceSchemaPos = v.Text, v.Pos
	return lx.close(formSchema, open)
}

func parseAccount(lx *lexer, open token) (*Account, error) {
	f := lx.f
	a := &Account{Pos: open.pos}
	seen := map[string]Pos{}
	once := func(t token, kw string) error {
		if kw == kwTenant {
			kw = kwTenants
		}
		if p, dup := seen[kw]; dup {
			return f.errorf(t.pos, "%s given twice in one account (first at line %d, column %d)", t.text, p.Line, p.Col)
		}
		seen[kw] = t.pos
		return nil
	}
	for {
		tok, err := lx.next()
		if err != nil {
			return nil, err
		}
		switch {
		case tok.kind == tokClose:
			return a, finishAccount(f, a, seen)
		case tok.kind == tokEOF:
			return nil, f.errorf(open.pos, "unbalanced parentheses: this ( is never closed")
		case tok.kind == tokWord && (tok.text == kwName || tok.text == kwLogin || tok.text == kwPassword):
			if err := once(tok, tok.text); err != nil {
				return nil, err
			}
			if tok.text == kwPassword {
				lx.hideFrom(tok.pos)
			}
			v, err := lx.value(tok.text, open)
			if err != nil {
				return nil, err
			}
			switch tok.text {
			case kwName:
				a.Name = v.Text
			case kwLogin:
				a.Login = v
			case kwPassword:
				a.Password = v
			}
		case tok.kind == tokOpen:
			kw, err := lx.next()
			if err != nil {
				return nil, err
			}
			switch {
			case kw.kind == tokWord && (kw.text == kwTenant || kw.text == kwTenants):
				if err := once(kw, kw.text); err != nil {
					return nil, err
				}
				if err := parseTenants(lx, a, tok, kw); err != nil {
					return nil, err
				}
			case kw.kind == tokWord && kw.text == kwTimeZone:
				if err := once(kw, kw.text); err != nil {
					return nil, err
				}
				if a.TimeZone, err = lx.value(kwTimeZone, tok); err != nil {
					return nil, err
				}
				if err := lx.close(kwTimeZone, tok); err != nil {
					return nil, err
				}
			case kw.kind == tokEOF:
				return nil, f.errorf(tok.pos, "unbalanced parentheses: this ( is never closed")
			default:
				return nil, f.errorf(kw.pos, "expected tenants: or time-zone: after (, found %s", kw.describe())
			}
		case tok.kind == tokWord && strings.HasSuffix(tok.text, ":"):
			return nil, f.errorf(tok.pos, "unknown keyword %s: expected name:, login:, password:, (tenants: …) or (time-zone: …)", tok.describe())
		default:
			return nil, f.errorf(tok.pos, "expected a keyword (name:, login:, password:, (tenants: …), (time-zone: …)) or ), found %s", tok.describe())
		}
	}
}

func parseTenants(lx *lexer, a *Account, open, kw token) error {
	f := lx.f
	for {
		tok, err := lx.next()
		if err != nil {
			return err
		}
		switch tok.kind {
		case tokClose:
			if !a.AllTenants && len(a.Tenants) == 0 {
				return f.errorf(tok.pos, "%s needs at least one tenant name or key, or all", kw.text)
			}
			return nil
		case tokEOF:
			return f.errorf(open.pos, "unbalanced parentheses: this ( is never closed")
		case tokWord, tokString:
			if tok.kind == tokWord && keywords[tok.text] {
				return f.errorf(tok.pos, "expected ) to close (%s, found keyword %s", kw.text, tok.text)
			}
			all := tok.kind == tokWord && tok.text == wordAll
			if all && len(a.Tenants) > 0 || !all && a.AllTenants {
				return f.errorf(tok.pos, "all cannot be combined with tenant names or keys (quote \"all\" for a tenant named all)")
			}
			if all {
				a.AllTenants = true
				continue
			}
			a.Tenants = append(a.Tenants, tok.value())
		default:
			return f.errorf(tok.pos, "expected a tenant name or key, found %s", tok.describe())
		}
	}
}

func finishAccount(f *File, a *Account, seen map[string]Pos) error {
	for _, kw := range []string{kwLogin, kwPassword, kwTenants} {
		if _, ok := seen[kw]; !ok {
			return f.errorf(a.Pos, "%s: missing %s", formAccount, kw)
		}
	}
	if err := checkIdentifier(f, a.Login, "login"); err != nil {
		return err
	}
	if strings.HasPrefix(a.Login.Text, "pg_") {
		return f.errorf(a.Login.Pos, "login %s: names starting with pg_ are reserved by PostgreSQL", a.Login.Quote())
	}
	if a.Password.Text == "" {
		return f.errorf(a.Password.Pos, "empty password")
	}
	if strings.ContainsRune(a.Password.Text, 0) {
		return f.errorf(a.Password.Pos, "the password contains a NUL character")
	}
	if a.Name == "" {
		a.Name = a.Login.Text
	}
	return nil
}

func checkIdentifier(f *File, v Value, what string) error {
	switch {
	case v.Text == "":
		return f.errorf(v.Pos, "empty %s", what)
	case len(v.Text) > maxIdentifierBytes:
		return f.errorf(v.Pos, "%s %s is longer than PostgreSQL's %d bytes", what, v.Quote(), maxIdentifierBytes)
	case strings.ContainsRune(v.Text, 0):
		return f.errorf(v.Pos, "%s contains a NUL character", what)
	}
	return nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokOpen
	tokClose
	tokWord
	tokString
)

type token struct {
	kind tokKind
	text string
	pos  Pos
	// secret: on a password's line after its keyword (see lexer.hideFrom).
	secret bool
}

func (t token) value() Value {
	return Value{Text: t.text, Pos: t.pos, Quoted: t.kind == tokString, Secret: t.secret}
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokOpen:
		return "("
	case tokClose:
		return ")"
	case tokString:
		return "a quoted string"
	}
	if t.secret {
		return secretValue
	}
	return fmt.Sprintf("%q", t.text)
}

// lexer splits the file into parentheses, bare words and quoted strings,
// tracking line and column.
type lexer struct {
	f         *File
	src       []byte
	off       int
	line, col int
	lineStart bool // only blanks so far on this line
	// Tokens from hideStart through the end of hideLine are secret: the
	// password and whatever follows it on its line. hideLine is 0 until a
	// password: keyword is read, and -1 while its value is not yet lexed
	// (it may stand on a later line).
	hideStart Pos
	hideLine  int
}

// hideFrom marks the password: keyword at p: its value and the rest of the
// value's line are secret.
func (lx *lexer) hideFrom(p Pos) {
	if lx.hideLine >= p.Line {
		return // this line is secret already, from an earlier column
	}
	lx.hideStart, lx.hideLine = p, -1
}

// secret reports whether a token starting at p is secret; the first token
// after a password: keyword fixes the last secret line.
func (lx *lexer) secret(p Pos) bool {
	switch {
	case lx.hideLine == 0:
		return false
	case lx.hideLine < 0:
		lx.hideLine = p.Line
		return true
	}
	return p.Line <= lx.hideLine && (p.Line > lx.hideStart.Line || p.Col > lx.hideStart.Col)
}

func (lx *lexer) pos() Pos { return Pos{lx.line, lx.col} }

// peek decodes the rune at the current offset; invalid UTF-8 is an error.
func (lx *lexer) peek() (rune, int, error) {
	r, size := utf8.DecodeRune(lx.src[lx.off:])
	if r == utf8.RuneError && size == 1 {
		return 0, 0, lx.f.errorf(lx.pos(), "invalid UTF-8")
	}
	return r, size, nil
}

func (lx *lexer) advance(r rune, size int) {
	lx.off += size
	if r == '\n' {
		lx.line, lx.col, lx.lineStart = lx.line+1, 1, true
	} else {
		lx.col++
		if !unicode.IsSpace(r) {
			lx.lineStart = false
		}
	}
}

func (lx *lexer) next() (token, error) {
	if lx.off == 0 {
		lx.lineStart = true
		if len(lx.src) >= 3 && string(lx.src[:3]) == "\uFEFF" {
			lx.off = 3 // a byte order mark
		}
	}
	for lx.off < len(lx.src) {
		r, size, err := lx.peek()
		if err != nil {
			return token{}, err
		}
		if lx.lineStart && (r == '#' || r == ';') {
			lx.skipLine()
			continue
		}
		if !unicode.IsSpace(r) {
			break
		}
		lx.advance(r, size)
	}
	p := lx.pos()
	if lx.off >= len(lx.src) {
		return token{kind: tokEOF, pos: p}, nil
	}
	sec := lx.secret(p)
	r, size, _ := lx.peek()
	switch r {
	case '(':
		lx.advance(r, size)
		return token{kind: tokOpen, text: "(", pos: p, secret: sec}, nil
	case ')':
		lx.advance(r, size)
		return token{kind: tokClose, text: ")", pos: p, secret: sec}, nil
	case '"':
		return lx.quoted(p, sec)
	}
	var b strings.Builder
	for lx.off < len(lx.src) {
		r, size, err := lx.peek()
		if err != nil {
			return token{}, err
		}
		if unicode.IsSpace(r) || r == '(' || r == ')' || r == '"' {
			break
		}
		if r == 0 || unicode.IsControl(r) {
			if sec {
				return token{}, lx.f.errorf(lx.pos(), "control character in a bare word on the password's line")
			}
			return token{}, lx.f.errorf(lx.pos(), "control character %U in a bare word", r)
		}
		b.WriteRune(r)
		lx.advance(r, size)
	}
	return token{kind: tokWord, text: b.String(), pos: p, secret: sec}, nil
}

func (lx *lexer) skipLine() {
	for lx.off < len(lx.src) && lx.src[lx.off] != '\n' {
		lx.off++
	}
	lx.col = 1 // the newline itself advances the line
}

// quoted reads a double-quoted string: \" and \\ are the only escapes, and
// a string ends on its line. A secret string's errors show none of it.
func (lx *lexer) quoted(p Pos, sec bool) (token, error) {
	lx.advance('"', 1)
	var b strings.Builder
	for {
		if lx.off >= len(lx.src) {
			return token{}, lx.f.errorf(p, "unterminated string")
		}
		r, size, err := lx.peek()
		if err != nil {
			return token{}, err
		}
		switch r {
		case '\n':
			return token{}, lx.f.errorf(p, "unterminated string (a string ends on its line)")
		case '"':
			lx.advance(r, size)
			return token{kind: tokString, text: b.String(), pos: p, secret: sec}, nil
		case '\\':
			esc := lx.pos()
			lx.advance(r, size)
			if lx.off >= len(lx.src) {
				return token{}, lx.f.errorf(p, "unterminated string")
			}
			r, size, err = lx.peek()
			if err != nil {
				return token{}, err
			}
			if r != '"' && r != '\\' && sec {
				return token{}, lx.f.errorf(esc, "unknown escape in a string on the password's line: only \\\" and \\\\ are escapes")
			}
			if r != '"' && r != '\\' {
				return token{}, lx.f.errorf(esc, "unknown escape \\%c in a string: only \\\" and \\\\ are escapes", r)
			}
		case 0:
			return token{}, lx.f.errorf(lx.pos(), "NUL character in a string")
		}
		b.WriteRune(r)
		lx.advance(r, size)
	}
}

// value reads the value after keyword kw: a bare word or a quoted string.
func (lx *lexer) value(kw string, open token) (Value, error) {
	tok, err := lx.next()
	if err != nil {
		return Value{}, err
	}
	switch {
	case tok.kind == tokString:
		return tok.value(), nil
	case tok.kind == tokWord && keywords[tok.text]:
		return Value{}, lx.f.errorf(tok.pos, "%s needs a value before %s", kw, tok.text)
	case tok.kind == tokWord:
		return tok.value(), nil
	case tok.kind == tokEOF:
		return Value{}, lx.f.errorf(open.pos, "unbalanced parentheses: this ( is never closed")
	}
	return Value{}, lx.f.errorf(tok.pos, "%s needs a value, found %s", kw, tok.describe())
}

// close reads the ) that ends the form opened by open.
func (lx *lexer) close(what string, open token) error {
	tok, err := lx.next()
	if err != nil {
		return err
	}
	switch tok.kind {
	case tokClose:
		return nil
	case tokEOF:
		return lx.f.errorf(open.pos, "unbalanced parentheses: this ( is never closed")
	}
	return lx.f.errorf(tok.pos, "expected ) to close (%s, found %s", what, tok.describe())
}
