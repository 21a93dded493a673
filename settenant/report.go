package settenant

import (
	"fmt"
	"io"
	"strings"
)

// Result is what a run did.
type Result struct {
	// Check is true for a preview (-c): nothing was kept.
	Check bool `json:"check"`
	// Committed is true when the changes were committed.
	Committed bool `json:"committed"`
	// Updated counts the rows whose tenant changed, over all rules.
	Updated int64         `json:"updated"`
	Rules   []*RuleReport `json:"rules"`
	// A run with --commit-each-rule that stopped (failed or interrupted)
	// after committing some of its work says what it committed: the first
	// CommittedRules rules, then CommittedBatches batches of the next rule,
	// CommittedRows rows in all (Updated too); Rules holds the committed
	// rules. Stopped is the error that stopped it.
	CommittedRules   int    `json:"committed_rules,omitempty"`
	CommittedBatches int    `json:"committed_batches,omitempty"`
	CommittedRows    int64  `json:"committed_rows,omitempty"`
	Stopped          string `json:"stopped,omitempty"`
}

// committedText says what a stopped run committed.
func (res *Result) committedText() string {
	var parts []string
	switch res.CommittedRules {
	case 0:
	case 1:
		parts = append(parts, "rule 1")
	default:
		parts = append(parts, fmt.Sprintf("rules 1-%d", res.CommittedRules))
	}
	if res.CommittedBatches > 0 {
		parts = append(parts, fmt.Sprintf("%d %s of rule %d", res.CommittedBatches, plural(int64(res.CommittedBatches), "batch"), res.CommittedRules+1))
	}
	return fmt.Sprintf("%s committed (%d %s); the rest rolled back", strings.Join(parts, " and "), res.CommittedRows, plural(res.CommittedRows, "row"))
}

// RuleReport is what one rule did.
type RuleReport struct {
	Rule   int      `json:"rule"` // 1-based position in the file
	Line   int      `json:"line"`
	Object string   `json:"object"`
	Table  string   `json:"table"`
	Type   RuleType `json:"type"`
	Source string   `json:"source"` // the SREL path, the tenant name or the BREL back reference
	// Agree is how a BREL rule picks among its referrers' tenants (all or
	// majority); "" for other rules.
	Agree Agreement `json:"agree,omitempty"`
	Where string    `json:"where,omitempty"`
	// Updated counts the rows whose tenant the rule changed.
	Updated int64 `json:"updated"`
	// Counts is nil unless the report was asked for.
	*Counts
}

// Counts is the report of one rule. Matched = Updated + Unchanged + Kept +
// Untenanted.Total() + ChangedDuringRun.
type Counts struct {
	// Matched counts the rows the Where selected (every row without one).
	Matched int64 `json:"matched"`
	// Unchanged counts rows that already had the tenant the rule gives.
	Unchanged int64 `json:"unchanged"`
	// Reassigned counts the updated rows that had another tenant before.
	Reassigned int64 `json:"reassigned"`
	// Kept counts rows the rule found no tenant for that keep the one they had.
	Kept int64 `json:"kept"`
	// Untenanted counts the rows left without a tenant, by reason.
	Untenanted Reasons `json:"untenanted"`
	// ChangedDuringRun counts rows an application changed while the rule
	// ran so that the rule would now give them a new tenant (after three
	// rounds of taking them); a rerun does.
	ChangedDuringRun int64 `json:"changed_during_run"`
	// SampleKey names the columns shown in Sample ("ctid" when the table has no key).
	SampleKey []string `json:"sample_key"`
	// Sample lists some rows left without a tenant, in key order.
	Sample []Untenanted `json:"sample"`
	// Conflicts lists the references the new tenants break.
	Conflicts []Conflict `json:"conflicts"`
}

// Reasons counts rows left without a tenant by why the rule found none.
type Reasons struct {
	// NullReference: the SREL (or a later one on the path) is NULL.
	NullReference int64 `json:"null_reference"`
	// UntenantedReference: the referenced row has no tenant itself.
	UntenantedReference int64 `json:"untenanted_reference"`
	// DanglingReference: the SREL names a row that does not exist.
	DanglingReference int64 `json:"dangling_reference"`
	// The reasons of BREL rules (left out of the JSON when 0):
	// NoReferrers: no row references the row.
	NoReferrers int64 `json:"no_referrers,omitempty"`
	// UntenantedReferrers: rows reference it, but none yields a tenant.
	UntenantedReferrers int64 `json:"untenanted_referrers,omitempty"`
	// ReferrersDisagree: agree="all" and the referrers name several tenants.
	ReferrersDisagree int64 `json:"referrers_disagree,omitempty"`
	// ReferrersTie: agree="majority" and several tenants share the most votes.
	ReferrersTie int64 `json:"referrers_tie,omitempty"`
}

// Total is the number of rows left without a tenant.
func (r Reasons) Total() int64 {
	return r.NullReference + r.UntenantedReference + r.DanglingReference +
		r.NoReferrers + r.UntenantedReferrers + r.ReferrersDisagree + r.ReferrersTie
}

// plus sums two counts of reasons.
func (r Reasons) plus(o Reasons) Reasons {
	return Reasons{
		NullReference:       r.NullReference + o.NullReference,
		UntenantedReference: r.UntenantedReference + o.UntenantedReference,
		DanglingReference:   r.DanglingReference + o.DanglingReference,
		NoReferrers:         r.NoReferrers + o.NoReferrers,
		UntenantedReferrers: r.UntenantedReferrers + o.UntenantedReferrers,
		ReferrersDisagree:   r.ReferrersDisagree + o.ReferrersDisagree,
		ReferrersTie:        r.ReferrersTie + o.ReferrersTie,
	}
}

// Untenanted is a row left without a tenant.
type Untenanted struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
	// Votes lists, for a BREL rule's referrers_disagree and referrers_tie,
	// the tenants the referrers name, most votes first.
	Votes []Vote `json:"votes,omitempty"`
}

func newRuleReport(p *plan, withCounts bool) *RuleReport {
	rep := &RuleReport{Rule: p.index, Line: p.rule.Line(), Object: p.obj.Name, Table: p.obj.Table,
		Type: p.rule.Type, Source: p.rule.Source, Where: p.rule.Where}
	if p.brel != nil {
		rep.Agree = p.brel.agree
	}
	if withCounts {
		rep.Counts = &Counts{SampleKey: p.shownKey, Sample: []Untenanted{}, Conflicts: []Conflict{}}
		if len(p.shownKey) == 0 {
			rep.SampleKey = []string{"ctid"}
		}
	}
	return rep
}

// add sums a batch's counts into the report.
func (rep *RuleReport) add(c *Counts, sample []Untenanted, max int) {
	rep.Matched += c.Matched
	rep.Unchanged += c.Unchanged
	rep.Reassigned += c.Reassigned
	rep.Kept += c.Kept
	rep.Untenanted = rep.Untenanted.plus(c.Untenanted)
	rep.ChangedDuringRun += c.ChangedDuringRun
	for _, s := range sample {
		if len(rep.Sample) < max {
			rep.Sample = append(rep.Sample, s)
		}
	}
}

var reasonText = map[string]string{
	reasonNullReference:       "null reference",
	reasonDanglingReference:   "dangling reference",
	reasonUntenantedReference: "referenced row has no tenant",
	reasonNoReferrers:         "no referrers",
	reasonUntenantedReferrers: "referrers have no tenant",
	reasonReferrersDisagree:   "referrers disagree",
	reasonReferrersTie:        "referrers tie",
}

// Why says in words why the row was left without a tenant, with the votes
// of a BREL rule's referrers when they disagree or tie.
func (u Untenanted) Why() string {
	why, ok := reasonText[u.Reason]
	if !ok {
		why = u.Reason
	}
	if len(u.Votes) > 0 {
		why += ": " + votesText(u.Votes)
	}
	return why
}

// WriteText prints the result for people: one line per rule, and with the
// report the counts, the rows left without a tenant and the conflicts.
func (res *Result) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	for _, r := range res.Rules {
		desc := fmt.Sprintf("rule %d (line %d): %s ← %s %s", r.Rule, r.Line, r.Object, r.Type, r.Source)
		if r.Agree == AgreeMajority {
			desc += " (majority)"
		}
		if r.Where != "" {
			desc += " where " + strings.Join(strings.Fields(r.Where), " ")
		}
		verb := "updated"
		if res.Check {
			verb = "would update"
		}
		if r.Counts == nil {
			ew.printf("%s: %s %d %s\n", desc, verb, r.Updated, plural(r.Updated, "row"))
			continue
		}
		ew.printf("%s\n", desc)
		ew.printf("  matched %d, %s %d (%d had another tenant), unchanged %d, kept their tenant %d\n",
			r.Matched, verb, r.Updated, r.Reassigned, r.Unchanged, r.Kept)
		u := r.Untenanted
		switch {
		case r.Type != BREL:
			ew.printf("  left without a tenant %d: null reference %d, referenced row has no tenant %d, dangling reference %d\n",
				u.Total(), u.NullReference, u.UntenantedReference, u.DanglingReference)
		case r.Agree == AgreeMajority:
			ew.printf("  left without a tenant %d: no referrers %d, referrers have no tenant %d, referrers tie %d\n",
				u.Total(), u.NoReferrers, u.UntenantedReferrers, u.ReferrersTie)
		default:
			ew.printf("  left without a tenant %d: no referrers %d, referrers have no tenant %d, referrers disagree %d\n",
				u.Total(), u.NoReferrers, u.UntenantedReferrers, u.ReferrersDisagree)
		}
		if len(r.Sample) > 0 {
			more := ""
			if int64(len(r.Sample)) < u.Total() {
				more = fmt.Sprintf(", first %d", len(r.Sample))
			}
			ew.printf("  rows left without a tenant (%s%s):\n", strings.Join(r.SampleKey, ", "), more)
			for _, s := range r.Sample {
				ew.printf("    %s\t%s\n", s.Key, s.Why())
			}
		}
		if r.ChangedDuringRun > 0 {
			ew.printf("  changed by others during the run, to be updated by a rerun: %d\n", r.ChangedDuringRun)
		}
		for _, c := range r.Conflicts {
			what := "updated rows that reference a row of a tenant outside their supertenants"
			if c.Direction == "incoming" {
				what = "rows of other tenants that reference updated rows"
			}
			ew.printf("  reference rule broken through %s: %d %s (%s)\n", c.Srel, c.Rows, plural(c.Rows, "row"), what)
		}
	}
	switch {
	case res.Stopped != "":
		ew.printf("stopped: %s\n", res.committedText())
	case res.Check:
		ew.printf("check only: %d %s would be updated; nothing was changed\n", res.Updated, plural(res.Updated, "row"))
	case len(res.Rules) > 1:
		ew.printf("%d %s updated by %d rules\n", res.Updated, plural(res.Updated, "row"), len(res.Rules))
	}
	return ew.err
}

func plural(n int64, word string) string {
	switch {
	case n == 1:
		return word
	case strings.HasSuffix(word, "ch"):
		return word + "es"
	}
	return word + "s"
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
