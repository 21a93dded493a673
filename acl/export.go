package acl

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
)

// privilegeRights maps a PostgreSQL privilege back to the right it stands for.
var privilegeRights = map[string]string{
	"SELECT": "Read", "INSERT": "Create", "UPDATE": "Change", "DELETE": "Delete",
	"EXECUTE": "Execute", "CONNECT": "Execute", "USAGE": "Read", "CREATE": "Create",
}

// Export writes the live state of the roles tenantkit manages in this
// database as an access-control file: persons, access groups with their
// members, and one explicit, non-propagating entry per person and object
// holding what the person can do there now.
func Export(ctx context.Context, q Querier, w io.Writer) error {
	roles, _, exists, err := readState(ctx, q)
	if err != nil {
		return fmt.Errorf("reading tenantkit.acl_role: %w", err)
	}
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- exported by tenantkit acl export -->\n<AccessControl>\n")
	if !exists {
		b.WriteString("</AccessControl>\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	var persons []string
	groupName := map[string]string{}
	var groupRoles []string
	for _, r := range roles {
		if r[0] == "person" {
			persons = append(persons, r[1])
			fmt.Fprintf(&b, "  <Person name=%s/>\n", attr(r[1]))
		} else {
			groupName[r[2]] = r[1]
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
		members[g] = append(members[g], m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	sort.Slice(groupRoles, func(i, j int) bool { return groupName[groupRoles[i]] < groupName[groupRoles[j]] })
	for _, g := range groupRoles {
		name := groupName[g]
		tenantAttr := ""
		if t, _, ok := strings.Cut(name, `\`); ok {
			tenantAttr = " tenant=" + attr(t)
		}
		if len(members[g]) == 0 {
			fmt.Fprintf(&b, "  <AccessGroup name=%s%s/>\n", attr(name), tenantAttr)
			continue
		}
		fmt.Fprintf(&b, "  <AccessGroup name=%s%s>\n", attr(name), tenantAttr)
		sort.Strings(members[g])
		for _, m := range members[g] {
			fmt.Fprintf(&b, "    <Member person=%s/>\n", attr(m))
		}
		b.WriteString("  </AccessGroup>\n")
	}
	targets, err := readTargets(ctx, q)
	if err != nil {
		return err
	}
	objOf := map[string]Object{}
	for _, t := range targets {
		objOf[t.sql] = t.obj
	}
	live, err := readLive(ctx, q, persons)
	if err != nil {
		return err
	}
	type key struct{ person, object string }
	rights := map[key]map[string]bool{}
	grantable := map[key]bool{}
	for _, p := range live {
		o, ok := objOf[p.target]
		if !ok {
			continue // tenantkit's own state table
		}
		k := key{p.role, o.String()}
		if rights[k] == nil {
			rights[k] = map[string]bool{}
		}
		rights[k][privilegeRights[p.priv]] = true
		grantable[k] = grantable[k] || p.grantable
	}
	keys := make([]key, 0, len(rights))
	for k := range rights {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].object != keys[j].object {
			return keys[i].object < keys[j].object
		}
		return keys[i].person < keys[j].person
	})
	for _, k := range keys {
		var g Grant
		for r := range rights[k] {
			pg, _ := ParseGrant(r)
			g.Rights |= pg.Rights
		}
		if grantable[k] {
			g.Rights |= ChangePermissions
		}
		fmt.Fprintf(&b, "  <Permission object=%s to=%s rights=%s propagate=\"false\"/>\n", attr(k.object), attr(k.person), attr(g.String()))
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
