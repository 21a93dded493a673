package acl

import (
	"strings"
	"testing"
)

func obj(t *testing.T, s string) Object {
	t.Helper()
	o, err := ParseObject(s)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func grant(t *testing.T, s string) Grant {
	t.Helper()
	g, err := ParseGrant(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestParseGrant(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"Read", "Read", ""},
		{"read, change", "Read,Change", ""},
		{"RX", "Read,Execute", ""},
		{"Full", "Full", ""},
		{"Read,Create,Change,Execute,Delete,ReadPermissions,ChangePermissions", "Full", ""},
		{"NoAccess", "NoAccess", ""},
		{"NoAccess,Read", "", `rights "NoAccess,Read": NoAccess stands alone`},
		{"Write", "", `rights "Write": unknown permission "Write" (want Read, Create, Change, Execute, Delete, ReadPermissions, ChangePermissions, RX, Full or NoAccess)`},
		{"Read,", "", `rights "Read,": empty item`},
	}
	for _, tt := range tests {
		g, err := ParseGrant(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseGrant(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || g.String() != tt.want {
			t.Errorf("ParseGrant(%q) = %v, %v; want %s", tt.in, g, err, tt.want)
		}
	}
}

func TestParseObject(t *testing.T) {
	for in, want := range map[string]Object{
		"database":            Database,
		"schema:public":       {Kind: KindSchema, Schema: "public"},
		"table:public.deal":   {Kind: KindTable, Schema: "public", Name: "deal"},
		"table:s.a.b":         {Kind: KindTable, Schema: "s", Name: "a.b"},
		"function:public.f":   {Kind: KindFunction, Schema: "public", Name: "f"},
		"sequence:public.seq": {Kind: KindSequence, Schema: "public", Name: "seq"},
	} {
		got, err := ParseObject(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseObject(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "table:deal", "tabel:public.deal", "schema:", "table:.x"} {
		if _, err := ParseObject(bad); err == nil {
			t.Errorf("ParseObject(%q) succeeded", bad)
		}
	}
}

// seedPolicy is the seed's worked example: John is in A (Read) and B
// (Read/Write) on the host Friday.
func seedPolicy(t *testing.T) *Policy {
	friday := obj(t, "table:public.friday")
	return &Policy{
		Persons: map[string]bool{"john": true, "mary": true},
		Groups:  map[string]map[string]bool{"A": {"john": true}, "B": {"john": true}, "C": {}},
		Entries: []Entry{
			{Object: friday, Principal: "A", Grant: grant(t, "Read")},
			{Object: friday, Principal: "B", Grant: grant(t, "Read,Change")},
			{Object: friday, Principal: "C", Grant: grant(t, "NoAccess")},
		},
	}
}

func TestSeedExample(t *testing.T) {
	p := seedPolicy(t)
	friday := obj(t, "table:public.friday")
	if d := p.Effective("john", friday); d.Rights != Read|Change || d.NoAccess {
		t.Fatalf("john in A and B: %s, want Read,Change", d.Rights)
	}
	p.Groups["C"]["john"] = true
	d := p.Effective("john", friday)
	if d.Rights != 0 || !d.NoAccess {
		t.Fatalf("john after joining C: %s, want nothing", d.Rights)
	}
	ex := d.Explain()
	for _, want := range []string{"john on table:public.friday: None", "via C: NoAccess (explicit entry)", "No Access wins over every grant"} {
		if !strings.Contains(ex, want) {
			t.Errorf("explanation lacks %q:\n%s", want, ex)
		}
	}
	if d := p.Effective("mary", friday); d.Rights != 0 {
		t.Errorf("mary (no entries): %s, want nothing by default", d.Rights)
	}
}

func TestPropagationAndOverride(t *testing.T) {
	schemaPub := obj(t, "schema:public")
	deal, other := obj(t, "table:public.deal"), obj(t, "table:public.other")
	p := &Policy{
		Persons: map[string]bool{"john": true, "ann": true},
		Groups:  map[string]map[string]bool{"A": {"john": true, "ann": true}},
		Entries: []Entry{
			{Object: schemaPub, Principal: "A", Grant: grant(t, "Read"), Propagate: true},
			{Object: deal, Principal: "john", Grant: grant(t, "Change")},
			{Object: schemaPub, Principal: "ann", Grant: grant(t, "Delete"), Propagate: false},
			{Object: deal, Principal: "A", Grant: grant(t, "Read,Create")},
		},
	}
	tests := []struct {
		person string
		o      Object
		want   Rights
	}{
		{"john", other, Read},                  // propagated from the schema via A
		{"john", deal, Read | Create | Change}, // A's entry on deal overrides A's schema entry; john's own adds Change
		{"ann", other, Read},                   // ann's own schema entry does not propagate
		{"ann", schemaPub, Read | Delete},      // but applies to the schema itself
		{"ann", deal, Read | Create},
	}
	for _, tt := range tests {
		if d := p.Effective(tt.person, tt.o); d.Rights != tt.want {
			t.Errorf("%s on %s: %s, want %s\n%s", tt.person, tt.o, d.Rights, tt.want, d.Explain())
		}
	}
	if ex := p.Effective("ann", other).Explain(); !strings.Contains(ex, "ann: nothing (entry on schema:public does not propagate)") {
		t.Errorf("explanation:\n%s", ex)
	}
}

func TestReplaceRecursively(t *testing.T) {
	schemaPub := obj(t, "schema:public")
	deal := obj(t, "table:public.deal")
	p := &Policy{
		Persons: map[string]bool{"john": true},
		Groups:  map[string]map[string]bool{},
		Entries: []Entry{
			{Object: schemaPub, Principal: "john", Grant: grant(t, "Read"), Propagate: true},
			{Object: deal, Principal: "john", Grant: grant(t, "NoAccess")},
		},
	}
	if d := p.Effective("john", deal); d.Rights != 0 {
		t.Fatalf("before Replace: %s, want nothing", d.Rights)
	}
	p.Replaced = []Object{schemaPub}
	if d := p.Effective("john", deal); d.Rights != Read {
		t.Fatalf("after Replace: %s, want Read", d.Rights)
	}
	if d := p.Effective("john", schemaPub); d.Rights != Read {
		t.Fatalf("the container keeps its own entry: %s", d.Rights)
	}
}

func TestBuiltins(t *testing.T) {
	deal := obj(t, "table:public.deal")
	p := &Policy{
		Persons: map[string]bool{"john": true, "boss": true, "daemon": true},
		Groups: map[string]map[string]bool{
			SuperAdministrators: {"boss": true},
			System:              {"daemon": true},
			"C":                 {"boss": true},
		},
		Entries: []Entry{
			{Object: Database, Principal: Everyone, Grant: grant(t, "Execute"), Propagate: false},
			{Object: deal, Principal: "C", Grant: grant(t, "NoAccess")},
		},
		Master: "postgres",
	}
	if d := p.Effective("john", Database); d.Rights != Execute {
		t.Errorf("EVERYONE on database: %s", d.Rights)
	}
	if d := p.Effective("john", deal); d.Rights != 0 {
		t.Errorf("EVERYONE's entry does not propagate: %s", d.Rights)
	}
	if d := p.Effective("stranger", Database); d.Rights != 0 {
		t.Errorf("an undeclared role is not in EVERYONE: %s", d.Rights)
	}
	if d := p.Effective("daemon", deal); d.Rights != RX {
		t.Errorf("SYSTEM member: %s, want RX", d.Rights)
	}
	if d := p.Effective("boss", deal); d.Rights != Full || !d.Super {
		t.Errorf("Super Administrator: %s, want Full despite No Access", d.Rights)
	}
	if d := p.Effective("postgres", deal); d.Rights != Full {
		t.Errorf("master role: %s", d.Rights)
	}
}

func TestTenantDefaults(t *testing.T) {
	f := &File{
		Persons: []Person{{Name: "ann"}, {Name: "bob"}},
		Groups:  []Group{{Name: `Acme\Users`, Tenant: "Acme", Members: []string{"ann"}}},
	}
	f.withTenantDefaults([]string{"Acme"})
	f.Groups[len(f.Groups)-1].Members = []string{"bob"} // Acme\Administrators, added
	p := f.Policy("")
	acme := Object{Kind: KindTenant, Name: "Acme"}
	if d := p.Effective("ann", acme); d.Rights != RX {
		t.Errorf(`Acme\Users member: %s, want RX`, d.Rights)
	}
	if d := p.Effective("bob", acme); d.Rights != Full {
		t.Errorf(`Acme\Administrators member: %s, want Full`, d.Rights)
	}
	if len(f.Groups) != 2 || len(f.Entries) != 2 {
		t.Errorf("defaults added %d groups and %d entries, want 2 and 2", len(f.Groups), len(f.Entries))
	}
}
