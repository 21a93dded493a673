package acl

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Export writes the declared state of this database as an access-control
// file: the persons and access groups tenantkit manages here (the groups'
// members as PostgreSQL has them, the built-in groups' as declared), every
// permission entry and Replace marker as the last apply declared them, with
// tenants by name. Planning the file on the same database changes nothing.
func Export(ctx context.Context, q Querier, w io.Writer) error {
	st, err := readState(ctx, q)
	if err != nil {
		return fmt.Errorf("reading tenantkit.acl_state: %w", err)
	}
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- exported by tenantkit acl export -->\n<AccessControl>\n")
	if !st.exists {
		b.WriteString("</AccessControl>\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	isPerson := map[string]bool{}
	var groupRoles []string
	for _, r := range st.roles {
		if r[0] == "person" {
			isPerson[r[1]] = true
			fmt.Fprintf(&b, "  <Person name=%s/>\n", attr(r[1]))
		} else {
			groupRoles = append(groupRoles, r[2])
		}
	}
	rows, err := q.Query(ctx, `SELECT g.rolname, m.rolname FROM pg_auth_members am
		JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
		WHERE g.rolname = ANY ($1)`, groupRoles)
	if err != nil {
		return err
	}
	members := map[string][]string{}
	for rows.Next() {
		var g, m string
		if err := rows.Scan(&g, &m); err != nil {
			rows.Close()
			return err
		}
		// Other members are drift the next apply revokes.
		if isPerson[m] {
			members[g] = append(members[g], m)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	type group struct {
		name, tenant string
		members      []string
	}
	var groups []*group
	for _, r := range st.roles {
		if r[0] == "group" {
			groups = append(groups, &group{r[1], r[3], members[r[2]]})
		}
	}
	builtin := map[string]*group{}
	for _, m := range st.members {
		if builtin[m[0]] == nil {
			builtin[m[0]] = &group{name: m[0]}
			groups = append(groups, builtin[m[0]])
		}
		builtin[m[0]].members = append(builtin[m[0]].members, m[1])
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].name < groups[j].name })
	for _, g := range groups {
		tenantAttr := ""
		if g.tenant != "" {
			tenantAttr = " tenant=" + attr(g.tenant)
		}
		if len(g.members) == 0 {
			fmt.Fprintf(&b, "  <AccessGroup name=%s%s/>\n", attr(g.name), tenantAttr)
			continue
		}
		fmt.Fprintf(&b, "  <AccessGroup name=%s%s>\n", attr(g.name), tenantAttr)
		sort.Strings(g.members)
		for _, m := range g.members {
			fmt.Fprintf(&b, "    <Member person=%s/>\n", attr(m))
		}
		b.WriteString("  </AccessGroup>\n")
	}
	var replaces []string
	for _, e := range st.entries {
		if e[1] == replacePrincipal {
			replaces = append(replaces, e[0])
			continue
		}
		prop := ""
		if e[3] != "true" {
			prop = ` propagate="false"`
		}
		fmt.Fprintf(&b, "  <Permission object=%s to=%s rights=%s%s/>\n", attr(e[0]), attr(e[1]), attr(e[2]), prop)
	}
	for _, r := range replaces {
		fmt.Fprintf(&b, "  <Replace object=%s/>\n", attr(r))
	}
	b.WriteString("</AccessControl>\n")
	_, err = io.WriteString(w, b.String())
	return err
}

func attr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return `"` + strings.ReplaceAll(b.String(), `"`, "&quot;") + `"`
}
