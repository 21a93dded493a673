package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestParseOverlayErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"bad-unknown-element.xml", "bad-unknown-element.xml:2:3: unknown element <Objekt> inside <Schema>"},
		{"bad-unknown-attribute.xml", `bad-unknown-attribute.xml:2:22: unknown attribute "tabel" on <Object>`},
		{"bad-missing-name.xml", `bad-missing-name.xml:2:3: <Object> needs attribute "name"`},
		{"bad-tenancy.xml", `bad-tenancy.xml:2:46: tenancy "sometimes": want required, optional or none`},
		{"bad-srel-no-to.xml", `bad-srel-no-to.xml:3:5: <Srel> needs attribute "to"`},
		{"bad-boolean.xml", `bad-boolean.xml:3:52: <Srel> attribute "serviceProviderEligible": "yes" is not a boolean`},
		{"bad-tenants-after-object.xml", "bad-tenants-after-object.xml:3:3: <Tenants> must come before the <Object> elements"},
		{"bad-duplicate-object.xml", `bad-duplicate-object.xml:3:3: object "org" is declared twice (first at line 2)`},
		{"bad-maxdepth.xml", "bad-maxdepth.xml:2:30: maxDepth must be at least 1"},
		{"bad-empty-key.xml", `bad-empty-key.xml:2:46: key "id," has an empty column name`},
		{"bad-text.xml", "bad-text.xml:2:3: <Object> takes no text"},
		{"bad-root.xml", "bad-root.xml:1:1: root element is <Objects>, want <Schema>"},
		{"bad-malformed.xml", "bad-malformed.xml:3: malformed XML: element <Object> closed by </Schema>"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := filepath.Join("testdata", "overlays")
			_, err := parseOverlay(filepath.Join(dir, tt.file))
			if err == nil {
				t.Fatalf("parseOverlay(%s) succeeded, want error %q", tt.file, tt.want)
			}
			got := strings.TrimPrefix(err.Error(), dir+string(filepath.Separator))
			if got != tt.want {
				t.Errorf("error\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseOverlayGood(t *testing.T) {
	ov, err := parseOverlay(filepath.Join("testdata", "overlays", "good-full.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if ov.tenantColumn != "tenant" || ov.tenants.table != "ca_tenant" || ov.tenants.maxDepth != 3 || ov.tenants.maxTenants != 10 {
		t.Errorf("tenants parsed wrong: %+v %+v", ov, ov.tenants)
	}
	if len(ov.objects) != 1 || ov.objects[0].tenancy != Required || ov.objects[0].key[0] != "id" || len(ov.objects[0].srels) != 1 {
		t.Fatalf("object parsed wrong: %+v", ov.objects)
	}
	if s := ov.objects[0].srels[0]; s.attr != "parent_org" || s.column != "parent_org_id" || s.to != "org" || s.eligible {
		t.Errorf("srel parsed wrong: %+v", s)
	}
	ov, err = parseOverlay(filepath.Join("testdata", "overlays", "good-composite.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if k := ov.objects[0].key; len(k) != 2 || k[0] != "server" || k[1] != "path" {
		t.Errorf("composite key = %q", k)
	}
}

// TestOverlayXSDAgrees proves that overlay.xsd and the Go validator accept
// and reject the same files.
func TestOverlayXSDAgrees(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "overlays", "*.xml"))
	files = append(files, filepath.Join("..", "fixtures", "schema.xml"))
	if len(files) < 10 {
		t.Fatalf("only %d sample overlays", len(files))
	}
	testkit.XSDAgrees(t, "overlay.xsd", files, func(f string) error {
		_, err := parseOverlay(f)
		return err
	})
}

func FuzzParseOverlay(f *testing.F) {
	testkit.AddSeeds(f, filepath.Join("testdata", "overlays", "*.xml"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "o.xml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ov, err := parseOverlay(p)
		if err == nil && ov == nil {
			t.Fatal("nil overlay without error")
		}
	})
}
