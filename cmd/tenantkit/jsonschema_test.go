package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// outputSchema compiles docs/tenantkit.schema.json.
func outputSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(testkit.Path("docs/tenantkit.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("docs/tenantkit.schema.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("tenantkit.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("tenantkit.schema.json")
	if err != nil {
		t.Fatalf("docs/tenantkit.schema.json: %v", err)
	}
	return sch
}

// validateOutput checks one --json output against the schema, and that its
// envelope names the command and says ok exactly when the run exited 0.
func validateOutput(t *testing.T, sch *jsonschema.Schema, command, out string, code int) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Errorf("%s --json: not JSON: %v\n%s", command, err, out)
		return
	}
	if err := sch.Validate(v); err != nil {
		detail := err.Error()
		if ve, ok := err.(*jsonschema.ValidationError); ok {
			b, _ := json.MarshalIndent(ve.BasicOutput(), "", " ")
			detail = string(b)
		}
		t.Errorf("%s --json does not match docs/tenantkit.schema.json: %s\n%s", command, detail, out)
	}
	var env struct {
		Version int    `json:"schema_version"`
		Command string `json:"command"`
		OK      bool   `json:"ok"`
	}
	if err := json.Unmarshal([]byte(out), &env); err != nil {
		t.Errorf("%s --json: %v", command, err)
	}
	if env.Version != JSONSchemaVersion || env.Command != command || env.OK != (code == 0) {
		t.Errorf("%s --json (exit %d): envelope %+v", command, code, env)
	}
}

// TestJSONOutputsMatchSchema runs every command that has --json, on a real
// database through a whole conversion, and validates each output against
// docs/tenantkit.schema.json.
func TestJSONOutputsMatchSchema(t *testing.T) {
	sch := outputSchema(t)
	person := "tkjson_auditor"
	testkit.DropRolesAfter(t, person)
	db := testkit.NewFixtureDB(t)
	dir := t.TempDir()
	file := func(name string) string { return filepath.Join(dir, name) }
	acl := testkit.WriteFile(t, "acl.xml", `<AccessControl>
  <Person name="`+person+`"/>
  <Permission object="table:public.call_req" to="`+person+`" rights="Read"/>
</AccessControl>`)
	covered := map[string]bool{}
	// run runs one command with --json; the summary is on stdout, or on
	// stderr when the command's data goes to stdout.
	run := func(command string, wantCode int, onStderr bool, args ...string) string {
		t.Helper()
		res := testkit.Run(t, db, append([]string{"--json", "--schema", "fixtures/schema.xml"}, args...)...)
		if res.Code != wantCode {
			t.Fatalf("tenantkit %s: exit %d, want %d\n%s%s", strings.Join(args, " "), res.Code, wantCode, res.Stdout, res.Stderr)
		}
		out := res.Stdout
		if onStderr {
			out = res.Stderr
		}
		validateOutput(t, sch, command, out, res.Code)
		covered[command] = true
		return out
	}
	run("version", 0, false, "version")
	run("prepare plan", 0, false, "prepare", "plan")
	run("prepare apply", 0, false, "prepare", "apply")
	run("schema", 0, false, "schema")
	run("schema", 0, false, "schema", "--tenant-unique")
	run("verify", 1, false, "verify", "--sample", "2") // no tenants yet: missing-tenant
	run("tenant create", 0, false, "tenant", "create", "--service-provider", "--subtenants-allowed", "Service Provider")
	run("buildtenant", 0, false, "buildtenant", "-c")
	run("buildtenant", 0, false, "buildtenant")
	run("tenant list", 0, false, "tenant", "list")
	run("tenant tree", 0, false, "tenant", "tree")
	run("tenant groups", 0, false, "tenant", "groups", "Acme Europe")
	run("tenant set-parent", 0, false, "tenant", "set-parent", "Acme Europe", "Service Provider")
	run("tenant set-parent", 0, false, "tenant", "set-parent", "Acme Europe", "Acme") // back
	run("tenant group create", 0, false, "tenant", "group", "create", "Europe", "Acme Europe", "Globex")
	run("tenant group list", 0, false, "tenant", "group", "list")
	run("tenant group delete", 0, false, "tenant", "group", "delete", "Europe")
	out := run("settenant", 0, false, "settenant", "-c", "-r", "--sample", "2", "-f", "fixtures/settenant.xml")
	if !strings.Contains(out, `"null_reference"`) {
		t.Errorf("settenant -c -r --json has no report:\n%s", out)
	}
	run("settenant", 0, false, "settenant", "-f", "fixtures/settenant.xml")
	run("verify", 0, false, "verify")
	out = run("distribute plan", 0, false, "distribute", "plan")
	if !strings.Contains(out, `"type": "distributed"`) || !strings.Contains(out, `"citus": false`) {
		t.Errorf("distribute plan --json classifies nothing as distributed, or sees Citus on plain PostgreSQL:\n%s", out)
	}
	run("extract", 0, false, "extract", "-o", file("all.dat"), "ALL")
	run("extract", 0, true, "extract", "--format", "csv", "priority")
	run("tenant-extract", 0, false, "tenant-extract", "--tenant", "Acme", "-o", file("acme.dat"))
	run("verify", 0, false, "verify", "-t", "Acme", "-f", file("acme.dat"))
	run("userload", 0, false, "userload", "-c", "-f", file("acme.dat"))
	run("userload", 0, false, "userload", "-f", file("acme.dat"))
	bad := testkit.WriteFile(t, "bad.dat", "TABLE priority\n    code label sort_order\n    { \"P9\", \"Odd\", \"not a number\" }\n")
	run("userload", 1, false, "userload", "-f", bad)
	run("convert", 0, false, "convert", file("acme.dat"), file("acme.csv")+"/")
	run("aliases", 0, false, "aliases", "-c", "-f", "fixtures/aliases.txt")
	run("acl plan", 0, false, "acl", "plan", "-f", acl)
	run("acl apply", 0, false, "acl", "apply", "-f", acl)
	run("acl effective", 0, false, "acl", "effective", "-f", acl, person, "table:public.call_req")
	run("acl export", 0, false, "acl", "export", "-o", file("acl-live.xml"))
	run("acl export", 0, true, "acl", "export")

	// distribute isolate needs Citus: on plain PostgreSQL it is refused
	// (exit 2, no summary); with a Citus coordinator
	// (TENANTKIT_TEST_CITUS_URL) its summary is validated too.
	res := testkit.Run(t, db, "--json", "--schema", "fixtures/schema.xml", "distribute", "isolate", "Acme")
	if res.Code != 2 || res.Stdout != "" || !strings.Contains(res.Stderr, "no citus extension") {
		t.Errorf("distribute isolate --json without Citus: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	covered["distribute isolate"] = true
	if testkit.CitusURL() != "" {
		db = testkit.NewCitusFixtureDB(t)
		testkit.ConvertFixture(t, db)
		run("distribute plan", 0, false, "distribute", "plan")
		run("distribute apply", 0, false, "distribute", "apply", "--overlay-out", file("distributed.xml"))
		if out := run("distribute isolate", 0, false, "distribute", "isolate", "Acme"); !strings.Contains(out, `"tenant": "Acme"`) {
			t.Errorf("distribute isolate --json:\n%s", out)
		}
	}

	db = testkit.NewDB(t)
	run("fixtures load", 0, false, "fixtures", "load", "--empty")
	run("fixtures generate", 0, false, "fixtures", "generate", "--orgs", "3", "--contacts", "5", "--tickets", "5", "--tenants", "2", "--tenancy", "all")
	out = run("distribute apply", 0, false, "distribute", "apply", "--keys-only")
	if !strings.Contains(out, `"keys_only": true`) || strings.Contains(out, `"steps": 0,`) {
		t.Errorf("distribute apply --keys-only --json:\n%s", out)
	}

	// Every command that takes --json was run.
	var missing []string
	for _, path := range jsonCommands(newApp(strings.NewReader(""), io.Discard, io.Discard).Commands, "") {
		if !covered[path] {
			missing = append(missing, path)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("commands with --json that this test does not run: %s", strings.Join(missing, ", "))
	}
}

// jsonCommands are the paths of the commands that take --json.
func jsonCommands(cmds []*cli.Command, prefix string) []string {
	var out []string
	for _, c := range cmds {
		path := strings.TrimSpace(prefix + " " + c.Name)
		if len(c.Subcommands) > 0 {
			out = append(out, jsonCommands(c.Subcommands, path)...)
			continue
		}
		if findFlag(c.Flags, "json") != nil {
			out = append(out, path)
		}
	}
	return out
}

// TestJSONSchemaRejects proves that the schema can fail: a summary with a
// member it does not document, without the envelope, or of another
// version is rejected.
func TestJSONSchemaRejects(t *testing.T) {
	sch := outputSchema(t)
	good := `{"schema_version":1,"command":"convert","ok":true,"rows":3}`
	for _, doc := range []string{
		`{"schema_version":1,"command":"convert","ok":true,"rows":3,"surprise":1}`,
		`{"command":"convert","ok":true,"rows":3}`,
		`{"schema_version":2,"command":"convert","ok":true,"rows":3}`,
		`{"schema_version":1,"command":"convert","ok":true,"rows":"3"}`,
		`{"schema_version":1,"command":"no such command","ok":true}`,
		`{"schema_version":1,"command":"verify","ok":true,"violations":0}`,
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if sch.Validate(v) == nil {
			t.Errorf("the schema accepts %s", doc)
		}
	}
	v, _ := jsonschema.UnmarshalJSON(strings.NewReader(good))
	if err := sch.Validate(v); err != nil {
		t.Errorf("the schema rejects %s: %v", good, err)
	}
}
