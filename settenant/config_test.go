package settenant

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"bad-root.xml", "bad-root.xml:1:1: root element is <Settenant>, want <SetTenant>"},
		{"bad-empty.xml", "bad-empty.xml:1:1: <SetTenant> has no <Object> rules"},
		{"bad-unknown-element.xml", "bad-unknown-element.xml:4:5: unknown element <When> inside <Object>"},
		{"bad-unknown-attribute.xml", `bad-unknown-attribute.xml:2:22: unknown attribute "table" on <Object>`},
		{"bad-missing-name.xml", `bad-missing-name.xml:2:3: <Object> needs attribute "name"`},
		{"bad-blank-name.xml", `bad-blank-name.xml:2:11: <Object> attribute "name" is empty`},
		{"bad-no-rule.xml", `bad-no-rule.xml:2:3: <Object name="cnt"> has no <TenantRule>`},
		{"bad-two-rules.xml", "bad-two-rules.xml:4:5: more than one <TenantRule> in <Object> (first at line 3)"},
		{"bad-two-wheres.xml", "bad-two-wheres.xml:5:5: more than one <Where> in <Object> (first at line 3)"},
		{"bad-rule-type.xml", `bad-rule-type.xml:3:17: <TenantRule> type "srel": want SREL, BREL or Name`},
		{"bad-rule-no-type.xml", `bad-rule-no-type.xml:3:5: <TenantRule> needs attribute "type"`},
		{"bad-rule-empty.xml", `bad-rule-empty.xml:3:5: <TenantRule type="Name"> is empty: name the tenant`},
		{"bad-where-empty.xml", "bad-where-empty.xml:4:5: <Where> is empty; leave it out to select every row"},
		{"bad-where-element.xml", "bad-where-element.xml:4:27: unknown element <and> inside <Where>"},
		{"bad-where-attribute.xml", `bad-where-attribute.xml:4:12: unknown attribute "lang" on <Where>`},
		{"bad-object-text.xml", "bad-object-text.xml:2:3: <Object> takes no text"},
		{"bad-mixed-text.xml", "bad-mixed-text.xml:2:3: <Object> takes no text"},
		{"bad-agree.xml", `bad-agree.xml:3:29: <TenantRule> agree "most": want all or majority`},
		{"bad-brel-empty.xml", `bad-brel-empty.xml:3:5: <TenantRule type="BREL"> is empty: name the SREL of another object that references this one (object.attribute)`},
		{"bad-malformed.xml", "bad-malformed.xml:4: malformed XML: element <Object> closed by </SetTenant>"},
	}
	dir := filepath.Join("testdata", "configs")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := ParseFile(filepath.Join(dir, tt.file))
			if err == nil {
				t.Fatalf("ParseFile(%s) succeeded, want error %q", tt.file, tt.want)
			}
			got := strings.TrimPrefix(err.Error(), dir+string(filepath.Separator))
			if got != tt.want {
				t.Errorf("error\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseFileGood(t *testing.T) {
	cfg, err := ParseFile(filepath.Join("testdata", "configs", "good-path.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules) != 3 {
		t.Fatalf("got %d rules, want 3", len(cfg.Rules))
	}
	want := []Rule{
		{Object: "cr", Type: SREL, Source: "customer . organization", Where: "tenant IS NULL\n      AND ref_num <> 'CR-1001'"},
		{Object: "pcat", Type: Name, Source: "Acme"},
		{Object: "cnt", Type: SREL, Source: "organization"},
	}
	for i, w := range want {
		r := cfg.Rules[i]
		if r.Object != w.Object || r.Type != w.Type || r.Source != w.Source || r.Where != w.Where {
			t.Errorf("rule %d = %+v, want %+v", i+1, *r, w)
		}
	}
	if got := []int{cfg.Rules[0].Line(), cfg.Rules[1].Line(), cfg.Rules[2].Line()}; got[0] != 2 || got[1] != 9 || got[2] != 10 {
		t.Errorf("rule lines = %v, want [2 9 10]", got)
	}
}

func TestParseFileBREL(t *testing.T) {
	cfg, err := ParseFile(filepath.Join("testdata", "configs", "good-brel.xml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{
		{Object: "employees", Type: BREL, Source: "employee_territories.employee_id / territory_id.region_id", Agree: AgreeMajority, Where: "tenant IS NULL"},
		{Object: "territories", Type: BREL, Source: "employee_territories.territory_id"},
		{Object: "region", Type: BREL, Source: "territories.region_id", Agree: AgreeAll},
	}
	if len(cfg.Rules) != len(want) {
		t.Fatalf("got %d rules, want %d", len(cfg.Rules), len(want))
	}
	for i, w := range want {
		r := cfg.Rules[i]
		if r.Object != w.Object || r.Type != w.Type || r.Source != w.Source || r.Agree != w.Agree || r.Where != w.Where {
			t.Errorf("rule %d = %+v, want %+v", i+1, *r, w)
		}
	}
}

// TestSetTenantXSDAgrees proves that schema/settenant.xsd and the Go parser
// accept and reject the same files.
func TestSetTenantXSDAgrees(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "configs", "*.xml"))
	files = append(files, filepath.Join("..", "fixtures", "settenant.xml"))
	if len(files) < 15 {
		t.Fatalf("only %d sample files", len(files))
	}
	testkit.XSDAgrees(t, filepath.Join("..", "schema", "settenant.xsd"), files, func(f string) error {
		_, err := ParseFile(f)
		return err
	})
}

func FuzzParseFile(f *testing.F) {
	testkit.AddSeeds(f, filepath.Join("testdata", "configs", "*.xml"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "s.xml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := ParseFile(p)
		if err != nil {
			return
		}
		if cfg == nil || len(cfg.Rules) == 0 {
			t.Fatal("no rules without an error")
		}
		for _, r := range cfg.Rules {
			if strings.TrimSpace(r.Object) == "" || r.Source == "" || (r.Type != SREL && r.Type != Name && r.Type != BREL) {
				t.Fatalf("accepted an incomplete rule: %+v", *r)
			}
		}
	})
}
