package e2e_test

// Scans of the library sources for the error rule of issue 20: libraries
// return classified errors (internal/fault) and name a caller's setting by
// its Options field; only cmd/tenantkit knows exit codes and flags.

import (
	"fmt"
	"go/ast"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// notLibrary skips the packages that are no library: the command, the
// end-to-end tests and the benchmarks, and internal/testkit, whose strings
// are the flags of PostgreSQL's programs it runs for tests.
func notLibrary(rel string) bool {
	switch rel {
	case "cmd", "e2e", "bench", filepath.Join("internal", "testkit"):
		return true
	}
	return false
}

// flagWord finds a command-line flag in text: -x or --word after the start,
// a space, a parenthesis, a quote or a backquote.
var flagWord = regexp.MustCompile("(?:^|[\\s(`'\"])(--?[a-z][a-z-]*)\\b")

// TestLibrariesHaveNoExitCodesOrFlags fails when a library package imports
// an exit-code package (only cmd/tenantkit maps errors to exit codes) or a
// string literal of a library's non-test source names a command-line flag
// (libraries name the Options field, as a fault.Option, and cmd/tenantkit
// words it as the flag).
func TestLibrariesHaveNoExitCodesOrFlags(t *testing.T) {
	fset := token.NewFileSet()
	var found []string
	for _, fl := range goSources(t, fset, false, notLibrary) {
		for _, im := range fl.f.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); strings.HasSuffix(p, "/internal/exit") || strings.HasSuffix(p, "/cmd/tenantkit") {
				found = append(found, fmt.Sprintf("%s: imports %s: return a classified error (internal/fault) instead", fset.Position(im.Pos()), p))
			}
		}
		ast.Inspect(fl.f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			if m := flagWord.FindStringSubmatch(s); m != nil {
				found = append(found, fmt.Sprintf("%s: names the flag %s: %s", fset.Position(lit.Pos()), m[1], lit.Value))
			}
			return true
		})
	}
	if len(found) > 0 {
		t.Errorf("libraries that know the command line (name the Options field with fault.Option):\n%s", strings.Join(found, "\n"))
	}
}
