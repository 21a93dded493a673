package e2e_test

// Scans of the non-test Go sources for SQL built against the project's
// security rules (issue 19): literals only through internal/sqlq, functions
// that pin their search_path, tenantkit's own objects named with their schema;
// statements assembled through internal/sqlq (issue 20): sqlq.Expand's
// {name}s instead of %[n] verbs, sqlq.Args instead of "$%d"; and library
// code that reaches the process's standard streams (issue 20).

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// handQuoteAllowed are the places that put quotes around text for something
// other than SQL, by file and the flagged source text.
var handQuoteAllowed = map[string]string{
	`load/report.go: strings.ReplaceAll(m[1], "''", "'")`: "reads a quoted name back out of a server message",
}

// TestNoHandBuiltLiterals fails on any non-test Go source outside
// internal/sqlq that builds an SQL string literal by hand: a quote
// concatenated to a value, quotes doubled with Replace/ReplaceAll/
// NewReplacer, or a '%s'-style verb between quotes in a Sprintf format.
// sqlq.Lit is the one quoter: correct whatever standard_conforming_strings
// says, where a hand-written one forgets the backslashes.
func TestNoHandBuiltLiterals(t *testing.T) {
	fset := token.NewFileSet()
	files := goSources(t, fset, false, notSQLQ)
	// consts are the package-level constants by package name: a quote
	// next to a constant is part of a fixed statement, not of a value.
	consts := map[string]map[string]bool{}
	for _, fl := range files {
		f := fl.f
		pc := consts[f.Name.Name]
		if pc == nil {
			pc = map[string]bool{}
			consts[f.Name.Name] = pc
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, sp := range g.Specs {
					for _, n := range sp.(*ast.ValueSpec).Names {
						pc[n.Name] = true
					}
				}
			}
		}
	}
	var found []string
	for _, fl := range files {
		rel, path, f := fl.rel, fl.path, fl.f
		isConst := func(e ast.Expr) bool { return constExpr(e, f.Name.Name, consts) }
		flag := func(n ast.Node, why string) {
			pos := fset.Position(n.Pos())
			src := exprText(fset, path, n)
			if handQuoteAllowed[rel+": "+src] != "" {
				return
			}
			found = append(found, rel+":"+strconv.Itoa(pos.Line)+": "+why+": "+src)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BinaryExpr:
				if n.Op != token.ADD {
					break
				}
				if s, ok := stringLit(n.X); ok && strings.HasSuffix(s, "'") && !isConst(n.Y) {
					flag(n, "a quote concatenated before a value")
				}
				if s, ok := stringLit(n.Y); ok && strings.HasPrefix(s, "'") && !isConst(n.X) {
					flag(n, "a quote concatenated after a value")
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					break
				}
				pkg, _ := sel.X.(*ast.Ident)
				if pkg == nil {
					break
				}
				switch pkg.Name + "." + sel.Sel.Name {
				case "strings.ReplaceAll", "strings.Replace", "strings.NewReplacer":
					for _, a := range n.Args {
						if s, ok := stringLit(a); ok && (s == "'" || s == "''" || s == `\'` || s == `\\`) {
							flag(n, "quotes doubled by hand")
							break
						}
					}
				case "fmt.Sprintf", "fmt.Fprintf", "fmt.Appendf":
					for _, a := range n.Args {
						if s, ok := stringLit(a); ok && quotedVerb(s) {
							flag(a, "a formatting verb between quotes")
							break
						}
					}
				}
			}
			return true
		})
	}
	if len(found) > 0 {
		t.Errorf("literals built by hand (use sqlq.Lit, or bind a parameter):\n%s", strings.Join(found, "\n"))
	}
}

// constExpr reports whether e is built of literals and package-level
// constants only (the BinaryExpr chain of a concatenation included).
func constExpr(e ast.Expr, pkg string, consts map[string]map[string]bool) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return consts[pkg][e.Name]
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		return ok && consts[x.Name][e.Sel.Name]
	case *ast.BinaryExpr:
		return constExpr(e.X, pkg, consts) && constExpr(e.Y, pkg, consts)
	case *ast.ParenExpr:
		return constExpr(e.X, pkg, consts)
	}
	return false
}

func stringLit(e ast.Expr) (string, bool) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(b.Value)
	return s, err == nil
}

// quotedVerb reports a '%…' verb right after a quote, as in '%s' or E'%s'.
func quotedVerb(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\'' && s[i+1] == '%' && (i+2 >= len(s) || s[i+2] != '%') {
			return true
		}
	}
	return false
}

// exprText is the source text of n (its first line).
func exprText(fset *token.FileSet, path string, n ast.Node) string {
	src, err := readSource(path)
	if err != nil {
		return ""
	}
	start, end := fset.Position(n.Pos()).Offset, fset.Position(n.End()).Offset
	text := src[start:end]
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[:i] + " …"
	}
	return text
}

var sources = map[string]string{}

func readSource(path string) (string, error) {
	if s, ok := sources[path]; ok {
		return s, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sources[path] = string(b)
	return sources[path], nil
}

var (
	createFunction = regexp.MustCompile(`(?is)CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([^\s(]+)\s*\((.*?)\$`)
	ownObject      = regexp.MustCompile(`(^|[^.\w"'])(tenants_with|public_with|row_scoped|my_tenant_rights|my_scope|acl_tenant_rights|acl_role|acl_state|tenant_group_member|tenant_group)\b`)
)

// TestOwnFunctionsPinSearchPath: every function tenantkit creates sets its
// own search_path (a policy calls it in the querying role's session, with
// that role's search_path), and every reference to tenantkit's own objects
// is qualified with the schema (tenantkit.…).
func TestOwnFunctionsPinSearchPath(t *testing.T) {
	lits := sqlLiterals(t)
	functions := 0
	for _, l := range lits {
		for _, m := range createFunction.FindAllStringSubmatch(l.value, -1) {
			functions++
			if !strings.Contains(m[2], "SET search_path = pg_catalog, pg_temp") {
				t.Errorf("%s: function %s does not SET search_path = pg_catalog, pg_temp", l.pos, m[1])
			}
			if !strings.Contains(m[1], ".") {
				t.Errorf("%s: function %s is created without its schema", l.pos, m[1])
			}
		}
		for _, m := range ownObject.FindAllStringSubmatch(l.value, -1) {
			t.Errorf("%s: %s without its schema (tenantkit.%s) in %q", l.pos, m[2], m[2], l.value)
		}
	}
	if functions < 4 { // load's cast error and acl's three (verify -f's own went with issue 20)
		t.Errorf("found only %d CREATE FUNCTION statements: the scan is broken", functions)
	}
}

// TestOneIdentifierQuoter fails on any identifier quoted outside
// internal/sqlq: every name goes through sqlq.Ident.
func TestOneIdentifierQuoter(t *testing.T) {
	fset := token.NewFileSet()
	var found []string
	for _, fl := range goSources(t, fset, true, notSQLQ) {
		ast.Inspect(fl.f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sanitize" {
				found = append(found, fmt.Sprintf("%s:%d", fl.rel, fset.Position(sel.Pos()).Line))
			}
			return true
		})
	}
	if len(found) > 0 {
		t.Errorf("identifiers quoted outside internal/sqlq (use sqlq.Ident):\n%s", strings.Join(found, "\n"))
	}
}

// goSource is one parsed Go file of the repository.
type goSource struct {
	rel, path string
	f         *ast.File
}

// goSources parses the repository's Go files: the non-test ones, or with
// tests all of them; skip leaves out directories by their path relative
// to the root.
func goSources(t *testing.T, fset *token.FileSet, tests bool, skip func(rel string) bool) []goSource {
	t.Helper()
	root := testkit.RepoRoot()
	var out []goSource
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || skip != nil && skip(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || !tests && strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		out = append(out, goSource{rel, path, f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// notSQLQ skips internal/sqlq, the one place that may quote.
func notSQLQ(rel string) bool { return rel == filepath.Join("internal", "sqlq") }

// TestNoProcessIO fails on any library source (not a command, a test, the
// benchmark or testkit) that reaches the process's own standard streams:
// progress, logs and standard input are passed in (an io.Writer, nil
// meaning quiet; an io.Reader), so a package can be called from anywhere.
func TestNoProcessIO(t *testing.T) {
	fset := token.NewFileSet()
	set := func(names ...string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	banned := map[string]map[string]bool{
		"os":  set("Stdin", "Stdout", "Stderr"),
		"fmt": set("Print", "Printf", "Println", "Scan", "Scanf", "Scanln"),
		// The standard logger writes to standard error.
		"log": set("Print", "Printf", "Println", "Fatal", "Fatalf", "Fatalln", "Panic", "Panicf", "Panicln", "Default", "Writer"),
	}
	notLibrary := func(rel string) bool {
		switch filepath.ToSlash(rel) {
		case "cmd", "e2e", "bench", "internal/testkit":
			return true
		}
		return false
	}
	var found []string
	files := 0
	for _, fl := range goSources(t, fset, false, notLibrary) {
		if fl.f.Name.Name == "main" {
			continue // a program (fixtures/gen) owns its streams
		}
		files++
		local := map[string]string{} // the file's name for each banned package
		for _, imp := range fl.f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if _, ok := banned[p]; !ok {
				continue
			}
			name := p
			if imp.Name != nil {
				name = imp.Name.Name
			}
			local[name] = p
		}
		ast.Inspect(fl.f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			p, ok := local[x.Name]
			if !ok {
				return true
			}
			if banned[p][sel.Sel.Name] {
				found = append(found, fmt.Sprintf("%s:%d: %s.%s", fl.rel, fset.Position(sel.Pos()).Line, p, sel.Sel.Name))
			}
			return true
		})
	}
	if files < 50 {
		t.Errorf("scanned only %d library files: the scan is broken", files)
	}
	if len(found) > 0 {
		t.Errorf("library code using the process's standard streams (take an io.Writer or io.Reader instead):\n%s", strings.Join(found, "\n"))
	}
}

var (
	// positionalVerb is a Sprintf verb with an explicit argument index,
	// %[2]s: statements are filled in with sqlq.Expand's {name}s instead.
	positionalVerb = regexp.MustCompile(`%[-+# 0-9.*]*\[[0-9]+\]`)
	// numberedVerb formats a placeholder's number, "$%d" (SCRAM-SHA-256$%d,
	// which follows a word, is a password verifier's text, not SQL).
	numberedVerb = regexp.MustCompile(`(^|[^\w$])\$%[-+# 0-9]*[dv]`)
)

// TestOneStatementBuilder fails on any non-test Go source that assembles a
// statement with positional %[n] verbs, or numbers its parameters by hand
// ("$%d", "$" + a number) instead of collecting them in sqlq.Args.
func TestOneStatementBuilder(t *testing.T) {
	fset := token.NewFileSet()
	files := goSources(t, fset, false, nil)
	if len(files) < 50 {
		t.Fatalf("found only %d Go files: the scan is broken", len(files))
	}
	var found []string
	for _, fl := range files {
		flag := func(n ast.Node, why string) {
			found = append(found, fmt.Sprintf("%s:%d: %s: %s", fl.rel, fset.Position(n.Pos()).Line, why, exprText(fset, fl.path, n)))
		}
		ast.Inspect(fl.f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				s, ok := stringLit(n)
				if !ok {
					break
				}
				if positionalVerb.MatchString(s) {
					flag(n, "a positional %[n] verb (use sqlq.Expand)")
				}
				if numberedVerb.MatchString(s) {
					flag(n, "a placeholder numbered by hand (use sqlq.Args)")
				}
			case *ast.BinaryExpr:
				if s, ok := stringLit(n.X); ok && n.Op == token.ADD && strings.HasSuffix(s, "$") && !strings.HasSuffix(s, "$$") && !notSQLQ(filepath.Dir(fl.rel)) {
					flag(n, "a placeholder numbered by hand (use sqlq.Args)")
				}
			}
			return true
		})
	}
	if len(found) > 0 {
		t.Errorf("statements assembled by hand:\n%s", strings.Join(found, "\n"))
	}
}

// TestOneStatementBuilderCatches: the patterns of TestOneStatementBuilder
// match what they are meant to, and leave alone what they are not.
func TestOneStatementBuilderCatches(t *testing.T) {
	for _, tc := range []struct {
		s          string
		positional bool
		numbered   bool
	}{
		{"SELECT %[1]s FROM %[2]s", true, false},
		{"login %-[1]s", true, false},
		{"SELECT %s FROM %s WHERE k = $1", false, false},
		{"VALUES ($%d)", false, true},
		{"$%d", false, true},
		{", $%v", false, true},
		{"SCRAM-SHA-256$%d:%s$%s:%s", false, false},
		{"'{}'::jsonb, {x}", false, false},
	} {
		if got := positionalVerb.MatchString(tc.s); got != tc.positional {
			t.Errorf("positional %q: %v, want %v", tc.s, got, tc.positional)
		}
		if got := numberedVerb.MatchString(tc.s); got != tc.numbered {
			t.Errorf("numbered %q: %v, want %v", tc.s, got, tc.numbered)
		}
	}
}
