package e2e_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// The reference rule, one matrix, four checkers: verify over the database,
// userload -c of a file holding the referencing row, settenant -r giving a
// row its tenant, and verify -f -t. They must agree on every case.
//
// The schema is unlike the fixtures': the tenant table "realm" (SP ← T ←
// Sub, SP ← Other), a tenant column "realm_id", a target "doc" with a
// composite text key, the tenant-optional "note" referencing it through a
// foreign key and through an overlay-only, service-provider-eligible SREL,
// and "memo", which has no tenancy.
const refruleSchema = `
CREATE TABLE realm (rid int PRIMARY KEY, name text NOT NULL UNIQUE, parent int REFERENCES realm,
	subtenants_allowed boolean NOT NULL DEFAULT true, service_provider boolean NOT NULL DEFAULT false);
INSERT INTO realm VALUES (1, 'SP', NULL, true, true), (2, 'T', 1, true, false), (3, 'Sub', 2, true, false), (4, 'Other', 1, true, false);
CREATE TABLE doc (code text, part int, realm_id int REFERENCES realm, serial text UNIQUE, PRIMARY KEY (code, part));
INSERT INTO doc VALUES ('t', 1, 2, 't'), ('sub', 1, 3, 'sub'), ('other', 1, 4, 'other'), ('sp', 1, 1, 'sp'), ('pub', 1, NULL, 'pub');
CREATE TABLE note (nid int PRIMARY KEY, realm_id int REFERENCES realm, doc_code text, doc_part int,
	sp_serial text, FOREIGN KEY (doc_code, doc_part) REFERENCES doc);
CREATE TABLE memo (mid int PRIMARY KEY, doc_code text, doc_part int, FOREIGN KEY (doc_code, doc_part) REFERENCES doc);`

const refruleOverlay = `<Schema tenantColumn="realm_id">
  <Object name="note" table="note" tenancy="optional">
    <Srel attr="sp_doc" column="sp_serial" to="doc" toColumn="serial" serviceProviderEligible="true"/>
  </Object>
</Schema>`

func TestReferenceRuleMatrix(t *testing.T) {
	template := testkit.NewDB(t)
	template.Exec(t, refruleSchema)
	dir := t.TempDir()
	overlay := testkit.WriteFile(t, "overlay.xml", refruleOverlay)
	for i, c := range []struct {
		name  string
		owner string // the referencing row's tenant: a realm name, "" public, "memo" a memo row
		srel  string // "fk" (doc_code, doc_part) or "sp" (the eligible overlay SREL)
		doc   string // the referenced doc's code; "" a NULL reference
		leak  bool
	}{
		{"tenant to its own row", "T", "fk", "t", false},
		{"subtenant to its supertenant's row", "Sub", "fk", "t", false},
		{"tenant to its subtenant's row", "T", "fk", "sub", true},
		{"tenant to another tenant's row", "T", "fk", "other", true},
		{"tenant to a public row", "T", "fk", "pub", false},
		{"tenant to the service provider, eligible SREL", "T", "sp", "sp", false},
		{"tenant to the service provider, its supertenant", "T", "fk", "sp", false},
		{"tenant, NULL reference", "T", "fk", "", false},
		{"public row to a tenant's row", "", "fk", "t", true},
		{"public row to a public row", "", "fk", "pub", false},
		{"public row to the service provider, eligible SREL", "", "sp", "sp", false},
		{"public row to the service provider, not eligible", "", "fk", "sp", true},
		{"object without tenancy to a tenant's row", "memo", "fk", "t", true},
		{"object without tenancy to a public row", "memo", "fk", "pub", false},
	} {
		i := i
		t.Run(c.name, func(t *testing.T) {
			db := testkit.CloneDB(t, template)
			realm := map[string]string{"": "NULL", "SP": "1", "T": "2", "Sub": "3", "Other": "4"}
			code, part := "NULL", "NULL"
			if c.doc != "" {
				code, part = "'"+c.doc+"'", "1"
			}
			table, cols, vals := "note", "nid, realm_id, doc_code, doc_part", fmt.Sprintf("7, %s, %s, %s", realm[c.owner], code, part)
			if c.srel == "sp" {
				cols, vals = "nid, realm_id, sp_serial", fmt.Sprintf("7, %s, %s", realm[c.owner], code)
			}
			if c.owner == "memo" {
				table, cols, vals = "memo", "mid, doc_code, doc_part", fmt.Sprintf("7, %s, %s", code, part)
			}
			want := 0
			if c.leak {
				want = 1
			}

			// verify over the database.
			db.Exec(t, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, cols, vals))
			if got := referenceRuleCount(t, db, "verify", "--schema", overlay); got != want {
				t.Errorf("verify: %d reference-rule findings, want %d", got, want)
			}
			file := filepath.Join(dir, fmt.Sprintf("case%d.dat", i))
			if res := testkit.Run(t, db, "extract", "--schema", overlay, "-o", file, table); res.Code != 0 {
				t.Fatalf("extract: %d %s", res.Code, res.Stderr)
			}
			db.Exec(t, "DELETE FROM "+table)

			// userload -c of the same row.
			res := testkit.Run(t, db, "userload", "--schema", overlay, "-c", "--json", "-f", file)
			if rejected := strings.Contains(res.Stderr, "reference rule"); rejected != c.leak || (res.Code == 1) != c.leak {
				t.Errorf("userload -c: exit %d, rejected by the reference rule %v, want %v\n%s", res.Code, rejected, c.leak, res.Stderr)
			}

			// verify -f -t: the file's row as the tenant's.
			if c.owner != "" && c.owner != "memo" {
				if got := referenceRuleCount(t, db, "verify", "--schema", overlay, "-f", file, "-t", c.owner); got != want {
					t.Errorf("verify -f -t %s: %d reference-rule findings, want %d", c.owner, got, want)
				}
			}

			// settenant -r: the row gets its tenant from a Name rule (an
			// outgoing reference), or, for public rows, the row it
			// references was public and gets its tenant (incoming).
			if c.doc == "" || c.owner == "" || c.owner == "memo" {
				if c.doc == "" || !c.leak {
					return
				}
				db.Exec(t, fmt.Sprintf("UPDATE doc SET realm_id = NULL WHERE code = '%s'", c.doc))
				db.Exec(t, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, cols, vals))
				conflicts := settenantConflicts(t, db, overlay, "doc", "code = '"+c.doc+"'", "T")
				if conflicts != 1 {
					t.Errorf("settenant -r: %d conflicts, want 1 (a public row now references a tenant's row)", conflicts)
				}
			} else {
				db.Exec(t, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, cols, strings.Replace(vals, realm[c.owner], "NULL", 1)))
				if conflicts := settenantConflicts(t, db, overlay, "note", "nid = 7", c.owner); conflicts != want {
					t.Errorf("settenant -r: %d conflicts, want %d", conflicts, want)
				}
			}
			if got := referenceRuleCount(t, db, "verify", "--schema", overlay); got != want {
				t.Errorf("verify after settenant: %d reference-rule findings, want %d", got, want)
			}
		})
	}
}

// referenceRuleCount runs verify (args) and adds up its reference-rule
// findings.
func referenceRuleCount(t *testing.T, db *testkit.DB, args ...string) int {
	t.Helper()
	res := testkit.Run(t, db, append(args, "--json")...)
	var rep struct {
		Findings []struct {
			Check string
			Count int
		}
	}
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatalf("%v: exit %d, %v\n%s%s", args, res.Code, err, res.Stdout, res.Stderr)
	}
	n := 0
	for _, f := range rep.Findings {
		if f.Check == "reference-rule" {
			n += f.Count
		}
	}
	return n
}

// settenantConflicts gives the rows of object matching where the tenant
// named name with settenant -r and returns the conflicts it reports.
func settenantConflicts(t *testing.T, db *testkit.DB, overlay, object, where, name string) int {
	t.Helper()
	cfg := testkit.WriteFile(t, "settenant.xml", fmt.Sprintf(`<SetTenant>
  <Object name="%s">
    <TenantRule type="Name">%s</TenantRule>
    <Where>%s</Where>
  </Object>
</SetTenant>`, object, name, where))
	res := testkit.Run(t, db, "settenant", "--schema", overlay, "-r", "--json", "-f", cfg)
	var out struct {
		Rules []struct {
			Updated   int
			Conflicts []struct{ Rows int }
		}
	}
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil || len(out.Rules) != 1 || out.Rules[0].Updated != 1 {
		t.Fatalf("settenant -r: exit %d, %v\n%s%s", res.Code, err, res.Stdout, res.Stderr)
	}
	n := 0
	for _, c := range out.Rules[0].Conflicts {
		n += c.Rows
	}
	return n
}
