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

// brelChain is the derived source table of a BREL rule (see chain): one row per value
// of the referencing columns, with the tenant the referrers agree on. It
// counts the votes per tenant (one GROUP BY), then picks per key (a
// second). Without report only keys that get a tenant appear; with report
// every referenced key does, with the reason it gets none and the votes.
//
// In a batch whose key is the referenced columns, only the referencing rows
// of the batch's key range are read (not the whole referencing table for
// every batch).
func (st *statements) brelChain(a *sqlq.Args, in bounds, report bool) string {
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
	filter := "\n\tWHERE t IS NOT NULL"
	if report {
		filter = ""
	}
	pick := "count(t) = 1"
	if b.agree == AgreeMajority {
		pick = "count(t) = 1 OR (count(t) > 1 AND (array_agg(n ORDER BY n DESC) FILTER (WHERE t IS NOT NULL))[1] > (array_agg(n ORDER BY n DESC) FILTER (WHERE t IS NOT NULL))[2])"
	}
	names := sqlq.Names{
		"keys": keys, "sel": strings.Join(sel, ", "), "final": final, "from": from,
		"not_null": strings.Join(notNull, " AND "), "range": st.referrerRange(a, in),
		"filter": filter, "pick": pick, "tenant": st.tenant,
	}
	if !report {
		return sqlq.Expand(brelChainSQL, names)
	}
	split := reasonReferrersDisagree
	if b.agree == AgreeMajority {
		split = reasonReferrersTie
	}
	names["reason"], names["votes"] = st.reason, st.votes
	names["untenanted_referrers"], names["split"] = sqlq.Lit(reasonUntenantedReferrers), sqlq.Lit(split)
	return sqlq.Expand(brelReportChainSQL, names)
}

// brelCountedSQL counts the votes per key and tenant: {sel} are the
// referencing columns named as the keys, {final} the tenant the referrer
// yields.
const brelCountedSQL = `SELECT {keys}, t, count(*) AS n FROM (
		SELECT {sel}, {final} AS t
		FROM {from}
		WHERE {not_null}{range}
	) v{filter}
	GROUP BY {keys}, t`

// brelTenantSQL is the tenant a key gets: the one named by all (or most)
// votes, as {pick} decides.
const brelTenantSQL = `CASE WHEN {pick} THEN (array_agg(t ORDER BY n DESC, t) FILTER (WHERE t IS NOT NULL))[1] END AS {tenant}`

const brelChainSQL = `SELECT {keys}, ` + brelTenantSQL + `
	FROM (` + brelCountedSQL + `) g
	GROUP BY {keys}
	HAVING {pick}`

const brelReportChainSQL = `SELECT {keys}, ` + brelTenantSQL + `,
	CASE WHEN {pick} THEN NULL WHEN count(t) = 0 THEN {untenanted_referrers} ELSE {split} END AS {reason},
	CASE WHEN NOT ({pick}) AND count(t) > 1 THEN json_agg(json_build_array(t::text, n) ORDER BY n DESC, t) FILTER (WHERE t IS NOT NULL) END AS {votes}
	FROM (` + brelCountedSQL + `) g
	GROUP BY {keys}`

// referrerRange restricts the referencing rows to a batch's key range when
// the batch key is, in order, the columns the back reference points at;
// otherwise it is "" and every referrer is read.
func (st *statements) referrerRange(a *sqlq.Args, b bounds) string {
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

// brelReport gives the report statement (see report) a BREL rule's source
// table, its reasons, and the votes of rows whose referrers disagree or tie.
func (st *statements) brelReport(a *sqlq.Args, b bounds) sqlq.Names {
	reason := fmt.Sprintf("CASE WHEN %s.%s IS NOT NULL THEN NULL WHEN %s.%s IS NULL THEN %s ELSE %s.%s END",
		st.src, st.tenant, st.src, st.keys[0], sqlq.Lit(reasonNoReferrers), st.src, st.reason)
	return sqlq.Names{
		"chain": st.brelChain(a, b, true), "on": strings.Join(st.joinOn(), " AND "), "reason": reason,
		"reason_counts": reasonCounts(reasonNoReferrers, reasonUntenantedReferrers, reasonReferrersDisagree, reasonReferrersTie),
		"votes":         ", " + st.src + "." + st.votes + " AS votes", "sampled": ", votes", "sampled_z": ", z.votes"}
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
