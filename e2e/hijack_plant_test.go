package e2e_test

// Shadowing functions and operators for the search_path hijack tests
// (hostile_test.go). The list of names is derived from the code: every
// identifier followed by "(" and every operator token inside a Go string
// literal of a non-test source file, kept when pg_catalog has a function or
// operator of that name.

import (
	"context"
	"fmt"
	"go/ast"
	"go/token"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/internal/sqlq"
)

var (
	callToken     = regexp.MustCompile(`(?i)\b([a-z_][a-z0-9_]*)\s*\(`)
	operatorToken = regexp.MustCompile("[-+*/<>=~!@#%^&|`?]+")
)

// goLiteral is a string literal of the repository's non-test Go sources.
type goLiteral struct {
	pos   string // file:line, relative to the repository root
	value string
}

// sqlLiterals returns every string literal of the non-test Go sources of
// the repository.
func sqlLiterals(t *testing.T) []goLiteral {
	t.Helper()
	var lits []goLiteral
	fset := token.NewFileSet()
	for _, fl := range goSources(t, fset, false, nil) {
		ast.Inspect(fl.f, func(n ast.Node) bool {
			if b, ok := n.(*ast.BasicLit); ok && b.Kind == token.STRING {
				if s, err := strconv.Unquote(b.Value); err == nil {
					lits = append(lits, goLiteral{fl.rel + ":" + strconv.Itoa(fset.Position(b.Pos()).Line), s})
				}
			}
			return true
		})
	}
	return lits
}

// usedNames are the candidate function names and operator tokens of the
// code's string literals (not yet intersected with the catalog).
func usedNames(t *testing.T) (funcs, ops []string) {
	t.Helper()
	fset, oset := map[string]bool{}, map[string]bool{}
	for _, l := range sqlLiterals(t) {
		s := l.value
		for _, m := range callToken.FindAllStringSubmatch(s, -1) {
			fset[strings.ToLower(m[1])] = true
		}
		for _, m := range operatorToken.FindAllString(s, -1) {
			oset[m] = true
			if m == "!=" {
				oset["<>"] = true
			}
		}
	}
	for k := range fset {
		funcs = append(funcs, k)
	}
	for k := range oset {
		ops = append(ops, k)
	}
	sort.Strings(funcs)
	sort.Strings(ops)
	return funcs, ops
}

// pinnedConn is a connection of the test's own whose search_path finds only
// the system catalog, so that the test's queries never call a planted
// function themselves.
func pinnedConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = "pg_catalog, pg_temp"
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connecting as %s: %v", cfg.User, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// swapTypes replace one argument of a catalog signature; uniformTypes
// replace all of them. Each matches some calls better than pg_catalog's
// own (an exact match beats an implicit cast or a polymorphic parameter).
var (
	swapTypes    = []string{"name", "character varying"}
	uniformTypes = []string{"name", "character varying", "text", "oid", "regclass", "smallint", "integer", "bigint",
		"boolean", "text[]", "name[]", "smallint[]", "integer[]", "bigint[]", "oid[]", `"char"[]`}
	// polymorphicTypes: one of them shadows a name and arity whose catalog
	// overloads take no polymorphic argument. Two polymorphic shadows of one
	// name (or one beside a polymorphic catalog overload) would tie and make
	// every call an "is not unique" error instead of running anything.
	polymorphicTypes = []string{"anyelement", "anyarray", "anycompatible"}
	operandTypes     = []string{"name", "character varying", "text", "integer", "bigint", "oid", "regclass",
		"text[]", "name[]", "integer[]", "character varying[]"}
)

var unusableType = map[string]bool{"internal": true, "cstring": true, "trigger": true, "event_trigger": true,
	"language_handler": true, "fdw_handler": true, "index_am_handler": true, "tsm_handler": true, "table_am_handler": true}

func polymorphic(t string) bool { return strings.HasPrefix(t, "any") }

// returnType is what a planted function with args declares: the catalog's
// type, resolved from the concrete argument that replaced a polymorphic one
// of orig, else text (or text[]) when no argument could determine it.
func returnType(ret string, args, orig []string) string {
	if !polymorphic(ret) {
		return ret
	}
	compat := strings.HasPrefix(ret, "anycompatible")
	for i, a := range args {
		if polymorphic(a) && strings.HasPrefix(a, "anycompatible") == compat {
			return ret
		}
		if i < len(orig) && polymorphic(orig[i]) && !polymorphic(a) {
			elem := a
			if strings.HasSuffix(orig[i], "array") {
				if !strings.HasSuffix(a, "[]") {
					continue
				}
				elem = strings.TrimSuffix(a, "[]")
			}
			if strings.HasSuffix(ret, "array") {
				return elem + "[]"
			}
			return elem
		}
	}
	if strings.HasSuffix(ret, "array") {
		return "text[]"
	}
	return "text"
}

// planted is one shadowing object: its CREATE statements and a label.
type planted struct {
	label string
	sql   []string
}

// shadows builds the shadowing functions and operators for schema, each of
// whose bodies calls hit(label) before returning a value of its type.
func shadows(t *testing.T, conn *pgx.Conn, schema, hit string, funcs, ops []string) []planted {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT p.proname, p.proretset, p.prorettype::regtype::text, p.provariadic <> 0,
		coalesce((SELECT array_agg(a::regtype::text ORDER BY i) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS u(a, i)), '{}')
		FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname = ANY ($1)
		ORDER BY 1, 3, 5`, funcs)
	if err != nil {
		t.Fatal(err)
	}
	type overload struct {
		name, ret     string
		set, variadic bool
		args          []string
	}
	var overloads []overload
	for rows.Next() {
		var o overload
		if err := rows.Scan(&o.name, &o.set, &o.ret, &o.variadic, &o.args); err != nil {
			t.Fatal(err)
		}
		overloads = append(overloads, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []planted
	n := 0
	// add plants name(args); orig are the argument types of the catalog
	// overload it shadows, which its body calls on (through text, so that
	// the command under test goes on and shows what else it calls).
	add := func(name string, args, orig []string, variadic bool, ret string, set bool) {
		for _, a := range args {
			if unusableType[a] {
				return
			}
		}
		if unusableType[ret] {
			return
		}
		decl := append([]string(nil), args...)
		for i, a := range decl {
			if a == `"any"` {
				decl[i] = "text"
			}
		}
		if variadic && len(decl) > 0 {
			decl[len(decl)-1] = "VARIADIC " + decl[len(decl)-1]
			if !strings.HasSuffix(decl[len(decl)-1], "]") && !strings.HasSuffix(decl[len(decl)-1], "array") {
				decl[len(decl)-1] = "VARIADIC text[]"
			}
		}
		label := schema + "." + name + "(" + strings.Join(decl, ", ") + ")"
		if seen[label] {
			return
		}
		seen[label] = true
		ret = returnType(ret, args, orig)
		call := "pg_catalog." + sqlq.Ident(name) + "(" + passArgs(args, orig, variadic) + ")"
		body, rets := "BEGIN RETURN "+call+"; EXCEPTION WHEN others THEN RETURN NULL; END;", ret
		if set {
			sel := "x::text::" + ret
			if ret == "record" {
				sel = "*"
			}
			body, rets = "BEGIN RETURN QUERY SELECT "+sel+" FROM "+call+" AS x; EXCEPTION WHEN others THEN RETURN; END;", "SETOF "+ret
		} else if ret == "void" {
			body = "BEGIN PERFORM " + call + "; EXCEPTION WHEN others THEN NULL; END; RETURN;"
		}
		n++
		out = append(out, planted{label, []string{fmt.Sprintf(
			`CREATE FUNCTION %s.%s(%s) RETURNS %s LANGUAGE plpgsql SET search_path = pg_catalog AS $tk$ BEGIN PERFORM %s(%s); %s END $tk$`,
			sqlq.Ident(schema), sqlq.Ident(name), strings.Join(decl, ", "), rets, hit, sqlq.Lit(label), body)}})
	}
	arity := map[string]overload{}
	polyArity := map[string]bool{}
	for _, o := range overloads {
		for _, a := range o.args {
			if polymorphic(a) || a == `"any"` {
				polyArity[o.name+"/"+strconv.Itoa(len(o.args))] = true
			}
		}
		add(o.name, o.args, o.args, o.variadic, o.ret, o.set)
		for i := range o.args {
			for _, s := range swapTypes {
				args := append([]string(nil), o.args...)
				args[i] = s
				add(o.name, args, o.args, false, o.ret, o.set)
			}
		}
		k := o.name + "/" + strconv.Itoa(len(o.args))
		if _, ok := arity[k]; !ok {
			arity[k] = o
		}
	}
	keys := make([]string, 0, len(arity))
	for k := range arity {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		o := arity[k]
		types := uniformTypes
		if !polyArity[k] && len(o.args) > 0 {
			types = append(types[:len(types):len(types)], polymorphicTypes[i%len(polymorphicTypes)])
		}
		for _, u := range types {
			args := make([]string, len(o.args))
			for i := range args {
				args[i] = u
			}
			add(o.name, args, o.args, false, o.ret, o.set)
		}
	}

	rows, err = conn.Query(ctx, `SELECT o.oprname, o.oprleft::regtype::text, o.oprright::regtype::text, o.oprresult::regtype::text, o.oprleft = 0
		FROM pg_operator o WHERE o.oprnamespace = 'pg_catalog'::regnamespace AND o.oprname = ANY ($1) ORDER BY 1, 2, 3`, ops)
	if err != nil {
		t.Fatal(err)
	}
	type operator struct {
		name, left, right, result string
		prefix                    bool
	}
	var operators []operator
	for rows.Next() {
		var o operator
		if err := rows.Scan(&o.name, &o.left, &o.right, &o.result, &o.prefix); err != nil {
			t.Fatal(err)
		}
		operators = append(operators, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	addOp := func(name, left, right, result string, prefix bool, origLeft, origRight string) {
		if unusableType[left] || unusableType[right] || unusableType[result] {
			return
		}
		label := schema + "." + name + "(" + left + ", " + right + ")"
		if prefix {
			label = schema + "." + name + "(NONE, " + right + ")"
		}
		if seen[label] {
			return
		}
		seen[label] = true
		args := []string{left, right}
		if prefix {
			args = []string{right}
		}
		orig := []string{origLeft, origRight}
		if prefix {
			orig = []string{origRight}
		}
		result = returnType(result, args, orig)
		n++
		fn := sqlq.Ident(schema, fmt.Sprintf("tk_shadow_op_%d", n))
		leftArg := "LEFTARG = " + left + ", "
		if prefix {
			leftArg = ""
		}
		out = append(out, planted{label, []string{
			fmt.Sprintf(`CREATE FUNCTION %s(%s) RETURNS %s LANGUAGE plpgsql SET search_path = pg_catalog AS $tk$ BEGIN PERFORM %s(%s); BEGIN RETURN %s; EXCEPTION WHEN others THEN RETURN NULL; END; END $tk$`,
				fn, strings.Join(args, ", "), result, hit, sqlq.Lit(label), passOperator(name, args, origLeft, origRight, prefix)),
			fmt.Sprintf(`CREATE OPERATOR %s.%s (%sRIGHTARG = %s, FUNCTION = %s)`, sqlq.Ident(schema), name, leftArg, right, fn),
		}})
	}
	byName := map[string]operator{}
	for _, o := range operators {
		addOp(o.name, o.left, o.right, o.result, o.prefix, o.left, o.right)
		for _, s := range swapTypes {
			if !o.prefix {
				addOp(o.name, s, o.right, o.result, false, o.left, o.right)
			}
			addOp(o.name, o.left, s, o.result, o.prefix, o.left, o.right)
		}
		// The uniform shadows return what the text (else a non-polymorphic)
		// overload returns: || on two varchar is text, not an array.
		if b, ok := byName[o.name]; !o.prefix && (!ok || o.left == "text" && b.left != "text" || polymorphic(b.result) && !polymorphic(o.result)) {
			byName[o.name] = o
		}
	}
	for _, o := range byName {
		for _, l := range operandTypes {
			for _, r := range operandTypes {
				if l == r || (!strings.HasSuffix(l, "]") && !strings.HasSuffix(r, "]")) {
					addOp(o.name, l, r, o.result, false, o.left, o.right)
				}
			}
		}
	}
	return out
}

// passArgs are a shadow's arguments cast to the catalog overload's types
// (through text where the types differ); polymorphic ones pass unchanged.
func passArgs(args, orig []string, variadic bool) string {
	var out []string
	for i := range args {
		a := fmt.Sprintf("$%d", i+1)
		if i < len(orig) && !polymorphic(orig[i]) && orig[i] != `"any"` && orig[i] != args[i] {
			a += "::text::" + orig[i]
		}
		if variadic && i == len(args)-1 {
			a = "VARIADIC " + a
		}
		out = append(out, a)
	}
	return strings.Join(out, ", ")
}

// passOperator applies the catalog operator to a shadow's operands.
func passOperator(name string, args []string, left, right string, prefix bool) string {
	op := "OPERATOR(pg_catalog." + name + ")"
	if prefix {
		return op + " " + passArgs(args, []string{right}, false)
	}
	ops := strings.Split(passArgs(args, []string{left, right}, false), ", ")
	return ops[0] + " " + op + " " + ops[1]
}

// plant creates the shadows, each in a subtransaction of one DO block (a
// signature PostgreSQL refuses is skipped), and returns how many exist.
func plant(t *testing.T, conn *pgx.Conn, objs []planted) int {
	t.Helper()
	var stmts []string
	for _, o := range objs {
		stmts = append(stmts, sqlq.Lit(strings.Join(o.sql, ";\n")))
	}
	do := `DO $do$ DECLARE s text; n int := 0; BEGIN
	FOREACH s IN ARRAY ARRAY[` + strings.Join(stmts, ",\n") + `]::text[] LOOP
		BEGIN EXECUTE s; n := n + 1; EXCEPTION WHEN others THEN NULL; END;
	END LOOP;
	PERFORM pg_catalog.set_config('tk_shadow.planted', n::text, false);
	END $do$`
	if _, err := conn.Exec(context.Background(), do); err != nil {
		t.Fatalf("planting: %v", err)
	}
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT pg_catalog.current_setting('tk_shadow.planted')::int").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
