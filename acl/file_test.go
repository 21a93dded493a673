package acl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestParseFileSpecExample(t *testing.T) {
	f, err := ParseFile(filepath.Join("testdata", "files", "good-spec.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Persons) != 1 || len(f.Groups) != 3 || len(f.Entries) != 5 || len(f.Replaces) != 1 {
		t.Fatalf("parsed %d persons, %d groups, %d entries, %d replaces", len(f.Persons), len(f.Groups), len(f.Entries), len(f.Replaces))
	}
	if g := f.Groups[2]; g.Name != `Acme\Users` || g.Tenant != "Acme" || g.Members[0] != "john" {
		t.Errorf("tenant group = %+v", g)
	}
	e := f.Entries[3]
	if e.Object.String() != "table:public.deal" || e.Principal != "C" || !e.Grant.NoAccess || !e.Propagate || e.Line != 9 {
		t.Errorf("entry = %+v", e)
	}
	if d := f.Policy("").Effective("john", e.Object); d.Rights != Read|Execute {
		// Replace on schema:public voids the explicit entries on deal, so
		// only A's Read from the schema and EVERYONE's Execute from the
		// database propagate to it.
		t.Errorf("john on deal = %s, want Read,Execute after the Replace", d.Rights)
	}
}

func TestParseFileErrors(t *testing.T) {
	tests := []struct{ file, want string }{
		{"bad-unknown-element.xml", "2:3: unknown element <User> inside <AccessControl>"},
		{"bad-unknown-attribute.xml", `2:23: unknown attribute "password" on <Person>`},
		{"bad-missing-rights.xml", `3:3: <Permission> needs attribute "rights"`},
		{"bad-object.xml", `3:15: object "table:deal": want table:SCHEMA.NAME`},
		{"bad-replace-table.xml", "2:3: <Replace> needs a container (database, schema or tenant), not table:public.deal"},
		{"bad-propagate.xml", `3:57: <Permission> attribute "propagate": "yes" is not a boolean`},
		{"bad-duplicate-person.xml", `3:3: person "john" is declared twice (first at line 2)`},
		{"bad-member-text.xml", "3:3: <AccessGroup> takes no text"},
		{"bad-root.xml", "1:1: root element is <Permissions>, want <AccessControl>"},
	}
	for _, tt := range tests {
		p := filepath.Join("testdata", "files", tt.file)
		_, err := ParseFile(p)
		if err == nil || err.Error() != p+":"+tt.want {
			t.Errorf("%s: error %v, want %s", tt.file, err, tt.want)
		}
	}
}

// TestXSDAgrees proves that schema/acl.xsd and ParseFile accept and reject
// the same sample files.
func TestXSDAgrees(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "files", "*.xml"))
	if len(files) < 10 {
		t.Fatalf("only %d samples", len(files))
	}
	testkit.XSDAgrees(t, filepath.Join("..", "schema", "acl.xsd"), files, func(f string) error {
		_, err := ParseFile(f)
		return err
	})
}

func TestGroupRole(t *testing.T) {
	long := strings.Repeat("Very Long Tenant Name ", 10) + `\Administrators`
	seen := map[string]string{}
	for _, db := range []uint32{16384, 16385} {
		for _, name := range []string{"A", "a", `Acme\Users`, `Acme\Administrators`, "Acme Users", long, long + "2"} {
			r := GroupRole(db, name)
			if len(r) > 63 || !strings.HasPrefix(r, "tkg_") || r != GroupRole(db, name) || !oldGroupRole.MatchString(r) {
				t.Errorf("GroupRole(%d, %q) = %q", db, name, r)
			}
			if other, dup := seen[r]; dup {
				t.Errorf("GroupRole(%d, %q) = GroupRole(%s) = %q", db, name, other, r)
			}
			seen[r] = fmt.Sprintf("%d, %q", db, name)
		}
	}
}

func FuzzParseFile(f *testing.F) {
	testkit.AddSeeds(f, filepath.Join("testdata", "files", "*.xml"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "acl.xml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := ParseFile(p)
		if err == nil {
			file.Policy("master") // must not panic either
		}
	})
}
