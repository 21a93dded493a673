package sqlq

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Args collects the bound parameters of one statement. Add appends a value
// and returns its placeholder, so a statement built in pieces numbers its
// parameters in the order it takes them:
//
//	var a sqlq.Args
//	sql := "SELECT … WHERE t.key::text = " + a.Add(id) + " LIMIT " + a.Add(n)
//	rows, err := db.Query(ctx, sql, a...)
type Args []any

// Add appends v to the parameters and returns its placeholder, "$1" for
// the first.
func (a *Args) Add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// Names are the values Expand puts into a template, by placeholder name.
type Names map[string]string

// Expand fills in a statement template: every {name} in tmpl — a name is a
// lowercase letter followed by lowercase letters, digits and underscores —
// is replaced by names[name]. Any other brace ('{}', '{"vip": true}', an
// array literal) is left as it is. The substituted text is copied, never
// read again, so values holding braces, $n, % or quotes come through
// untouched.
//
// Expand panics when the template names a placeholder names does not have,
// or names has a value the template does not use: both are mistakes in the
// program, never in its input.
func Expand(tmpl string, names Names) string {
	var b strings.Builder
	used := make(map[string]bool, len(names))
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			break
		}
		n := placeholder(tmpl[i:])
		if n == 0 {
			b.WriteString(tmpl[:i+1])
			tmpl = tmpl[i+1:]
			continue
		}
		name := tmpl[i+1 : i+n-1]
		v, ok := names[name]
		if !ok {
			panic(fmt.Sprintf("sqlq.Expand: the template uses {%s}, which has no value", name))
		}
		used[name] = true
		b.WriteString(tmpl[:i])
		b.WriteString(v)
		tmpl = tmpl[i+n:]
	}
	if len(used) < len(names) {
		var unused []string
		for _, name := range slices.Sorted(maps.Keys(names)) {
			if !used[name] {
				unused = append(unused, name)
			}
		}
		panic(fmt.Sprintf("sqlq.Expand: the template does not use %s", strings.Join(unused, ", ")))
	}
	return b.String()
}

// placeholder returns the length of the {name} that s starts with, or 0
// when s does not start with one.
func placeholder(s string) int {
	if len(s) < 3 || s[1] < 'a' || s[1] > 'z' {
		return 0
	}
	for i := 2; i < len(s); i++ {
		switch c := s[i]; {
		case c == '}':
			return i + 1
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		default:
			return 0
		}
	}
	return 0
}
