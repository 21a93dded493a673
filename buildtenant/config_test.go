package buildtenant

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/fixtures"
	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

const configDir = "testdata/configs"

func TestReadConfigErrors(t *testing.T) {
	const order = "is out of place: <Object> holds <Attribute> elements, then at most one <Parent>, then at most one <Where>"
	tests := []struct {
		file string
		want string
	}{
		{"bad-root.xml", "bad-root.xml:1:1: root element is <Buildtenant>, want <BuildTenant>"},
		{"bad-no-object.xml", "bad-no-object.xml:1:1: <BuildTenant> needs at least one <Object>"},
		{"bad-unknown-element.xml", "bad-unknown-element.xml:2:3: unknown element <Objekt> inside <BuildTenant>"},
		{"bad-unknown-attribute.xml", `bad-unknown-attribute.xml:2:22: unknown attribute "name" on <Object>`},
		{"bad-missing-from.xml", `bad-missing-from.xml:2:3: <Object> needs attribute "from"`},
		{"bad-empty-from.xml", `bad-empty-from.xml:3:16: <Attribute> attribute "from" is empty`},
		{"bad-attribute-no-to.xml", `bad-attribute-no-to.xml:3:5: <Attribute> needs attribute "to"`},
		{"bad-attribute-child.xml", "bad-attribute-child.xml:3:38: unknown element <Where> inside <Attribute>"},
		{"bad-no-attribute.xml", "bad-no-attribute.xml:2:3: <Object> needs at least one <Attribute> (at least the tenant name)"},
		{"bad-duplicate-to.xml", `bad-duplicate-to.xml:4:35: tenant column "name" is mapped twice (first at line 3)`},
		{"bad-duplicate-object.xml", `bad-duplicate-object.xml:5:11: object "org" is configured twice (first at line 2)`},
		{"bad-order.xml", "bad-order.xml:4:5: <Attribute> " + order},
		{"bad-two-wheres.xml", "bad-two-wheres.xml:5:5: <Where> " + order},
		{"bad-two-parents.xml", "bad-two-parents.xml:5:5: <Parent> " + order},
		{"bad-parent-no-from.xml", `bad-parent-no-from.xml:4:5: <Parent> needs attribute "from"`},
		{"bad-empty-where.xml", "bad-empty-where.xml:4:5: <Where> is empty: give an SQL condition or leave the element out"},
		{"bad-where-child.xml", "bad-where-child.xml:4:23: unknown element <b> inside <Where>"},
		{"bad-where-attribute.xml", `bad-where-attribute.xml:4:12: unknown attribute "lang" on <Where>`},
		{"bad-text.xml", "bad-text.xml:2:3: <Object> takes no text"},
		{"bad-malformed.xml", "bad-malformed.xml:4: malformed XML: element <Attribute> closed by </Object>"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := ReadConfig(filepath.Join(configDir, tt.file))
			if err == nil {
				t.Fatalf("ReadConfig(%s) succeeded, want error %q", tt.file, tt.want)
			}
			got := strings.TrimPrefix(err.Error(), configDir+"/")
			if got != tt.want {
				t.Errorf("error\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestReadConfigGood(t *testing.T) {
	cfg, err := ReadConfig(filepath.Join(configDir, "good-full.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Objects) != 2 {
		t.Fatalf("objects = %d, want 2", len(cfg.Objects))
	}
	org, loc := cfg.Objects[0], cfg.Objects[1]
	if org.From != "org" || len(org.Attributes) != 3 || org.Parent == nil || org.Parent.From != "parent_org" {
		t.Errorf("org parsed wrong: %+v", org)
	}
	if m := org.Attributes[2]; m.From != "name" || m.To != "label" || m.Node.Line != 8 {
		t.Errorf("third mapping = %+v (line %d)", m, m.Node.Line)
	}
	if org.Where != "inactive = 0 AND name <> 'x'" {
		t.Errorf("org where = %q", org.Where)
	}
	if loc.Parent != nil || loc.Where != "address IS NOT NULL\n      AND name <> ''" || loc.WhereNode.Line != 14 {
		t.Errorf("location parsed wrong: %+v", loc)
	}
}

// defaultConfigName is where the fixture database's configuration, which
// tenantkit uses without -f, is shipped.
const defaultConfigName = "fixtures/buildtenant.xml"

func TestDefaultConfig(t *testing.T) {
	cfg, err := ParseConfig(defaultConfigName, fixtures.BuildTenantXML)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File != defaultConfigName || len(cfg.Objects) != 1 || cfg.Objects[0].From != "org" || cfg.Objects[0].Where != "inactive = 0" {
		t.Errorf("default config = %+v %+v", cfg, cfg.Objects[0])
	}
	// The embedded copy is the shipped file.
	disk, err := ReadConfig(testkit.Path(defaultConfigName))
	if err != nil || len(disk.Objects[0].Attributes) != len(cfg.Objects[0].Attributes) {
		t.Errorf("fixtures/buildtenant.xml: %v", err)
	}
}

// TestConfigXSDAgrees proves that buildtenant.xsd and the Go validator
// accept and reject the same files.
func TestConfigXSDAgrees(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(configDir, "*.xml"))
	files = append(files, testkit.Path(defaultConfigName))
	if len(files) < 20 {
		t.Fatalf("only %d sample configurations", len(files))
	}
	testkit.XSDAgrees(t, testkit.Path("schema/buildtenant.xsd"), files, func(f string) error {
		_, err := ReadConfig(f)
		return err
	})
}

func FuzzParseConfig(f *testing.F) {
	testkit.AddSeeds(f, filepath.Join(configDir, "*.xml"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("fuzz.xml", data)
		if err == nil {
			if cfg == nil || len(cfg.Objects) == 0 {
				t.Fatal("no objects without error")
			}
			for _, o := range cfg.Objects {
				if o.From == "" || len(o.Attributes) == 0 {
					t.Fatalf("incomplete object without error: %+v", o)
				}
			}
		} else if !strings.HasPrefix(err.Error(), "fuzz.xml:") {
			t.Fatalf("error without position: %v", err)
		}
	})
}
