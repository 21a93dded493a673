package settenant

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
)

// A BREL rule takes a row's tenant from the rows that reference it: its
// text names an SREL of another object that points at the rule's object,
// "object.attr", optionally followed by "/" and an SREL path from that
// object to the tenant, written as in an SREL rule on it:
//
//	employee_territories.employee_id                        the link rows' own tenant
//	employee_territories.employee_id/territory_id.region_id the tenant of their territory's region
//
// Every referencing row votes with the tenant it yields; a referrer that
// yields none (its own tenant, or the end of its path, is NULL, or the path
// breaks on a NULL or dangling reference) casts no vote and is otherwise
// ignored. With agree="all" (the default) a row takes the tenant when every
// vote names it; with agree="majority" the tenant most votes name, and a
// tie takes none. A row left without a tenant is reported as no_referrers
// (nothing references it), untenanted_referrers (nothing yields a tenant),
// referrers_disagree (agree="all", several tenants) or referrers_tie
// (agree="majority", several tenants share the most votes), the last two
// with the tenants involved and their votes.

// Why a BREL rule leaves a row without a tenant.
const (
	reasonNoReferrers         = "no_referrers"
	reasonUntenantedReferrers = "untenanted_referrers"
	reasonReferrersDisagree   = "referrers_disagree"
	reasonReferrersTie        = "referrers_tie"
)

// backRef is a BREL rule's back reference, resolved.
type backRef struct {
	// from is the referencing object and srel its SREL that points at the
	// rule's object.
	from *schema.Object
	srel *schema.Srel
	// path leads from the referencing rows to the tenant; nil reads their
	// own tenant column.
	path  []*schema.Srel
	agree Agreement
}

// resolveBrel checks the rule's "object.attr[/path]" against the schema.
// Every problem is an error at the rule's <TenantRule>.
func (p *plan) resolveBrel(s *schema.Schema) error {
	r := p.rule
	head, far, hasFar := strings.Cut(r.Source, "/")
	head = strings.TrimSpace(head)
	i := strings.LastIndex(head, ".")
	if i < 0 || strings.TrimSpace(head[:i]) == "" || strings.TrimSpace(head[i+1:]) == "" {
		return r.ruleErrorf("BREL %q: name the referencing object and its SREL that points at %q as object.attribute (then /path to follow it further)", r.Source, p.obj.Name)
	}
	objName, attr := strings.TrimSpace(head[:i]), strings.TrimSpace(head[i+1:])
	from := s.Object(objName)
	if from == nil {
		return r.ruleErrorf("BREL %q: unknown object %q", r.Source, objName)
	}
	sr := findSrel(from, attr)
	if sr == nil {
		if from.Column(attr) != nil {
			return r.ruleErrorf("BREL %q: attribute %q of object %q is not an SREL (no foreign key, and no <Srel> in the schema overlay)", r.Source, attr, from.Name)
		}
		return r.ruleErrorf("BREL %q: object %q has no attribute %q", r.Source, from.Name, attr)
	}
	if sr.Target != p.obj {
		return r.ruleErrorf("BREL %q: %s.%s points at object %q, not at %q: a BREL rule names an SREL of another object that references the rule's own object", r.Source, from.Name, sr.Attr, sr.TargetName, p.obj.Name)
	}
	b := &backRef{from: from, srel: sr, agree: r.Agree}
	if b.agree == "" {
		b.agree = AgreeAll
	}
	if hasFar {
		if strings.TrimSpace(far) == "" {
			return r.ruleErrorf("BREL %q: nothing after \"/\": name an SREL path from %q to the tenant, or leave out the \"/\" to read its own tenant column", r.Source, from.Name)
		}
		path, err := p.followPath(from, far)
		if err != nil {
			return err
		}
		b.path = path
	} else if !from.Tenanted() {
		return r.ruleErrorf("BREL %q: the referencing object %q (table %q) has no tenant column; add /path to follow its SRELs to one", r.Source, from.Name, from.Table)
	}
	p.brel = b
	return nil
}

// brelTables are the tables a BREL rule reads besides its own.
func (p *plan) brelTables() []string {
	if p.brel == nil {
		return nil
	}
	out := []string{p.brel.from.Ident()}
	for _, s := range p.brel.path {
		out = append(out, s.Target.Ident())
	}
	return out
}

// brelNames gives a BREL rule's source table its column names: the keys
// (the referencing columns) and the votes of the report.
func (st *statements) brelNames(free func(string) string) {
	for i := range st.p.brel.srel.Columns {
		st.keys = append(st.keys, sqlq.Ident(free(fmt.Sprintf("tenantkit_key%d", i+1))))
	}
	st.votes = sqlq.Ident(free("tenantkit_votes"))
}

// brelJoinOn matches target rows with the source table: the columns the
// back reference points at against the referencing columns.
func (st *statements) brelJoinOn() []string {
	var on []string
	for j, c := range st.p.brel.srel.TargetColumns {
		on = append(on, fmt.Sprintf("%s.%s = %s.%s", st.tbl, sqlq.Ident(c), st.src, st.keys[j]))
	}
	return on
}

// brelChain is the derived source table of a BREL rule: one row per value
// of the referencing columns, with the tenant the referrers agree on. It
// counts the votes per tenant (one GROUP BY), then picks per key (a
// second). Without report only keys that get a tenant appear; with report
// every referenced key does, with the reason it gets none and the votes.
//
// In a batch whose key is the referenced columns, only the referencing rows
// of the batch's key range are read (not the whole referencing table for
// every batch).
func (st *statements) brelChain(a *args, in bounds, report bool) string {
	b := st.p.brel
	hop := func(i int) string { return sqlq.Ident(fmt.Sprintf("b%d", i)) }
	var sel, notNull []string
	for j, c := range b.srel.Columns {
		sel = append(sel, hop(0)+"."+sqlq.Ident(c)+" AS "+st.keys[j])
		notNull = append(notNull, hop(0)+"."+sqlq.Ident(c)+" IS NOT NULL")
	}
	final := hop(0) + "." + sqlq.Ident(b.from.TenantColumn)
	from := b.from.Ident() + " " + hop(0)
	join := "JOIN"
	if report {
		join = "LEFT JOIN" // a referrer whose path breaks still counts as one
	}
	for i, s := range b.path {
		var on []string
		for j, c := range s.Columns {
			on = append(on, fmt.Sprintf("%s.%s = %s.%s", hop(i), sqlq.Ident(c), hop(i+1), sqlq.Ident(s.TargetColumns[j])))
		}
		from += fmt.Sprintf("\n\t\t%s %s %s ON %s", join, s.Target.Ident(), hop(i+1), strings.Join(on, " AND "))
		final = hop(i+1) + "." + sqlq.Ident(s.Target.TenantColumn)
	}
	keys := strings.Join(st.keys, ", ")
	votes := fmt.Sprintf("SELECT %s, %s AS t\n\t\tFROM %s\n\t\tWHERE %s%s", strings.Join(sel, ", "), final, from, strings.Join(notNull, " AND "), st.referrerRange(a, in))
	filter := "\n\tWHERE t IS NOT NULL"
	if report {
		filter = ""
	}
	counted := fmt.Sprintf("SELECT %[1]s, t, count(*) AS n FROM (\n\t\t%[2]s\n\t) v%[3]s\n\tGROUP BY %[1]s, t", keys, votes, filter)
	pick := "count(t) = 1"
	if b.agree == AgreeMajority {
		pick = "count(t) = 1 OR (count(t) > 1 AND (array_agg(n ORDER BY n DESC) FILTER (WHERE t IS NOT NULL))[1] > (array_agg(n ORDER BY n DESC) FILTER (WHERE t IS NOT NULL))[2])"
	}
	tenant := fmt.Sprintf("CASE WHEN %s THEN (array_agg(t ORDER BY n DESC, t) FILTER (WHERE t IS NOT NULL))[1] END AS %s", pick, st.tenant)
	if !report {
		return fmt.Sprintf("SELECT %[1]s, %[2]s\n\tFROM (%[3]s) g\n\tGROUP BY %[1]s\n\tHAVING %[4]s", keys, tenant, counted, pick)
	}
	split := reasonReferrersDisagree
	if b.agree == AgreeMajority {
		split = reasonReferrersTie
	}
	reason := fmt.Sprintf("CASE WHEN %s THEN NULL WHEN count(t) = 0 THEN %s ELSE %s END AS %s",
		pick, sqlq.Lit(reasonUntenantedReferrers), sqlq.Lit(split), st.reason)
	voted := fmt.Sprintf("CASE WHEN NOT (%s) AND count(t) > 1 THEN json_agg(json_build_array(t::text, n) ORDER BY n DESC, t) FILTER (WHERE t IS NOT NULL) END AS %s", pick, st.votes)
	return fmt.Sprintf("SELECT %[1]s, %[2]s, %[3]s, %[4]s\n\tFROM (%[5]s) g\n\tGROUP BY %[1]s", keys, tenant, reason, voted, counted)
}

// chainFor is the source table of a batch: a BREL rule's reads only the
// referrers of the batch (see brelChain).
func (st *statements) chainFor(a *args, b bounds, report bool) string {
	if st.p.brel != nil {
		return st.brelChain(a, b, report)
	}
	return st.chain(a, report)
}

// referrerRange restricts the referencing rows to a batch's key range when
// the batch key is, in order, the columns the back reference points at;
// otherwise it is "" and every referrer is read.
func (st *statements) referrerRange(a *args, b bounds) string {
	sr := st.p.brel.srel
	if (b.lo == nil && b.hi == nil) || len(st.p.rowKey) != len(sr.TargetColumns) {
		return ""
	}
	cols := make([]string, len(sr.Columns))
	for i, c := range st.p.rowKey {
		if c.Name != sr.TargetColumns[i] {
			return ""
		}
		cols[i] = sqlq.Ident("b0") + "." + sqlq.Ident(sr.Columns[i])
	}
	return st.keyRange(a, cols, b)
}

// brelReport is the report statement of a BREL rule (see report): the
// same counts, with the BREL reasons, and a sample that carries the votes
// of rows whose referrers disagree or tie.
func (st *statements) brelReport(b bounds, sample int) (string, args) {
	var a args
	p := st.p
	chain := st.brelChain(&a, b, true)
	reason := fmt.Sprintf("CASE WHEN %[1]s.%[2]s IS NOT NULL THEN NULL WHEN %[1]s.%[3]s IS NULL THEN %[4]s ELSE %[1]s.%[5]s END",
		st.src, st.tenant, st.keys[0], sqlq.Lit(reasonNoReferrers), st.reason)
	shown, sort := st.shownSort()
	limit := a.add(sample)
	count := func(reason string) string {
		return fmt.Sprintf("count(*) FILTER (WHERE new_tenant IS NULL AND old_tenant IS NULL AND reason = %s)", sqlq.Lit(reason))
	}
	sql := fmt.Sprintf(`WITH tenantkit_rows AS MATERIALIZED (
	SELECT %[1]s AS old_tenant, %[2]s.%[3]s AS new_tenant, %[4]s AS reason, %[2]s.%[5]s AS votes, %[6]s AS shown, %[7]s AS sort
	FROM %[8]s LEFT JOIN (%[9]s) AS %[2]s ON %[10]s
	WHERE NOT EXISTS (SELECT FROM %[11]s c WHERE c.tbl = %[12]s.tableoid AND c.row_id = %[12]s.ctid)%[13]s%[14]s
)
SELECT count(*),
	count(*) FILTER (WHERE new_tenant IS NOT NULL AND old_tenant IS NOT DISTINCT FROM new_tenant),
	count(*) FILTER (WHERE new_tenant IS NULL AND old_tenant IS NOT NULL),
	%[15]s,
	%[16]s,
	%[17]s,
	%[18]s,
	count(*) FILTER (WHERE new_tenant IS NOT NULL AND old_tenant IS DISTINCT FROM new_tenant),
	coalesce((SELECT json_agg(json_build_array(z.shown, z.reason, z.votes) ORDER BY z.sort) FROM (
		SELECT shown, reason, votes, sort FROM tenantkit_rows WHERE new_tenant IS NULL AND old_tenant IS NULL
		ORDER BY sort LIMIT %[19]s) z), '[]')::text
FROM tenantkit_rows`,
		st.tc, st.src, st.tenant, reason, st.votes, shown, sort,
		p.obj.Ident(), chain, strings.Join(st.joinOn(), " AND "),
		changedTable, st.tbl, st.rangeCond(&a, b), st.where(),
		count(reasonNoReferrers), count(reasonUntenantedReferrers), count(reasonReferrersDisagree), count(reasonReferrersTie),
		limit)
	return sql, a
}

// reportDest is where the report statement's columns go.
func (st *statements) reportDest(c *Counts, pending *int64, sample *string) []any {
	if st.p.brel != nil {
		u := &c.Untenanted
		return []any{&c.Matched, &c.Unchanged, &c.Kept,
			&u.NoReferrers, &u.UntenantedReferrers, &u.ReferrersDisagree, &u.ReferrersTie, pending, sample}
	}
	return []any{&c.Matched, &c.Unchanged, &c.Kept,
		&c.Untenanted.NullReference, &c.Untenanted.DanglingReference, &c.Untenanted.UntenantedReference, pending, sample}
}

// Vote is one tenant the referrers of a row name, with how many name it.
type Vote struct {
	Tenant    string `json:"tenant"`
	Referrers int64  `json:"referrers"`
}

// parseSample reads the report statement's sample: [key, reason] pairs,
// with the votes as a third element for BREL rules.
func parseSample(text string) ([]Untenanted, error) {
	var rows [][]json.RawMessage
	if err := json.Unmarshal([]byte(text), &rows); err != nil {
		return nil, err
	}
	out := make([]Untenanted, 0, len(rows))
	for _, r := range rows {
		if len(r) < 2 {
			return nil, fmt.Errorf("sample row %s has %d fields, want 2 or 3", r, len(r))
		}
		var u Untenanted
		if err := json.Unmarshal(r[0], &u.Key); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(r[1], &u.Reason); err != nil {
			return nil, err
		}
		if len(r) > 2 {
			var votes [][2]json.RawMessage
			if err := json.Unmarshal(r[2], &votes); err != nil {
				return nil, err
			}
			for _, v := range votes {
				var vote Vote
				if err := json.Unmarshal(v[0], &vote.Tenant); err != nil {
					return nil, err
				}
				if err := json.Unmarshal(v[1], &vote.Referrers); err != nil {
					return nil, err
				}
				u.Votes = append(u.Votes, vote)
			}
		}
		out = append(out, u)
	}
	return out, nil
}

// votesText prints the votes of a sampled row: "2 (3 referrers), 3 (1 referrer)".
func votesText(votes []Vote) string {
	parts := make([]string, len(votes))
	for i, v := range votes {
		parts[i] = fmt.Sprintf("%s (%d %s)", v.Tenant, v.Referrers, plural(v.Referrers, "referrer"))
	}
	return strings.Join(parts, ", ")
}
