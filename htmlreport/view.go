package htmlreport

import (
	"errors"
	"html/template"
	"strconv"
	"time"

	"github.com/tenantkit/tenantkit/settenant"
	"github.com/tenantkit/tenantkit/tenant"
	"github.com/tenantkit/tenantkit/verify"
)

// view is what the templates read: the page with everything computed that
// a template should not compute.
type view struct {
	Title     string
	Command   string
	Database  string
	Generated string
	// OK is the verdict: nothing found (verify), nothing left to do
	// (settenant).
	OK      bool
	Verdict string
	CSS     template.CSS
	JS      template.JS

	Verify    *verifyView
	Settenant *settenantView
	Census    *censusView
}

func newView(p *Page) (*view, error) {
	css, err := files.ReadFile("report.css")
	if err != nil {
		return nil, err
	}
	js, err := files.ReadFile("report.js")
	if err != nil {
		return nil, err
	}
	at := p.Generated
	if at.IsZero() {
		at = time.Now()
	}
	v := &view{Command: p.Command, Database: p.Database, Generated: at.UTC().Format("2006-01-02 15:04:05 UTC"),
		CSS: template.CSS(css), JS: template.JS(js)}
	v.Title = "tenantkit " + p.Command
	if p.Database != "" {
		v.Title += " — " + p.Database
	}
	switch {
	case p.Verify != nil:
		v.Verify = newVerifyView(p.Verify)
		v.OK = p.Verify.Violations == 0
		v.Verdict = "no violations"
		if !v.OK {
			v.Verdict = formatCount(p.Verify.Violations) + " " + plural(p.Verify.Violations, "violation")
		}
	case p.Settenant != nil:
		v.Settenant = newSettenantView(p.Settenant)
		v.OK, v.Verdict = v.Settenant.verdict(p.Settenant)
	default:
		return nil, errors.New("htmlreport: the page has no verify report nor settenant result")
	}
	if p.Census != nil {
		v.Census = newCensusView(p.Census)
		v.Census.Note = p.CensusNote
	}
	return v, nil
}

// verifyView is verify's section.
type verifyView struct {
	*verify.Report
	// Objects groups the findings by object, in the report's order.
	Objects []*objectFindings
}

// objectFindings are the findings about one object.
type objectFindings struct {
	Name     string
	Findings []*findingView
}

// findingView is a finding with what its sample list leaves out.
type findingView struct {
	*verify.Finding
	// About is the SREL ("srel → target") or the data file column.
	About string
	More  int64
}

func newVerifyView(r *verify.Report) *verifyView {
	v := &verifyView{Report: r}
	byName := map[string]*objectFindings{}
	for _, f := range r.Findings {
		o := byName[f.Object]
		if o == nil {
			o = &objectFindings{Name: f.Object}
			byName[f.Object] = o
			v.Objects = append(v.Objects, o)
		}
		fv := &findingView{Finding: f}
		switch {
		case f.Srel != "":
			fv.About = f.Srel + " → " + f.Target
		case f.Column != "":
			fv.About = f.Column
		}
		if len(f.Samples) > 0 {
			fv.More = f.Count - int64(len(f.Samples))
		}
		o.Findings = append(o.Findings, fv)
	}
	return v
}

// settenantView is settenant's section.
type settenantView struct {
	*settenant.Result
	Rules []*ruleView
	// Untenanted and Conflicts total the rules' rows left without a tenant
	// and rows in conflict with the reference rule.
	Untenanted, Conflicts int64
}

// ruleView is a rule with its funnel drawn.
type ruleView struct {
	*settenant.RuleReport
	Funnel []funnelBar
	// Width and Height are the funnel drawing's size in pixels.
	Width, Height int
	// Conflicts totals the rule's conflicting rows.
	Conflicts int64
}

// funnelBar is one bar of a rule's funnel: a count and its width in the
// drawing (the matched rows being the whole width).
type funnelBar struct {
	Label string
	Class string
	N     int64
	// Indent, Width and the positions are in pixels: Y is the bar's top,
	// X the bar's left, NumX where its count is written.
	Indent, Width, Y, X, NumX, TextY int
}

// The funnel drawing's geometry, in pixels.
const (
	funnelWidth = 360
	funnelLabel = 230
	funnelStep  = 26
	// FunnelSVGWidth leaves room for the largest count after a full bar.
	funnelSVGWidth = funnelLabel + funnelWidth + 110
)

func newSettenantView(res *settenant.Result) *settenantView {
	v := &settenantView{Result: res}
	for _, r := range res.Rules {
		rv := &ruleView{RuleReport: r}
		if r.Counts != nil {
			u := r.Untenanted
			v.Untenanted += u.Total()
			bars := []funnelBar{
				{Label: "matched", Class: "matched", N: r.Matched},
				{Label: "updated", Class: "updated", N: r.Updated, Indent: 1},
				{Label: "had another tenant", Class: "updated", N: r.Reassigned, Indent: 2},
				{Label: "unchanged (had this tenant)", Class: "unchanged", N: r.Unchanged, Indent: 1},
				{Label: "kept their tenant", Class: "kept", N: r.Kept, Indent: 1},
				{Label: "left without a tenant", Class: "untenanted", N: u.Total(), Indent: 1},
			}
			if r.Type == settenant.BREL {
				bars = append(bars,
					funnelBar{Label: "no referrers", Class: "untenanted", N: u.NoReferrers, Indent: 2},
					funnelBar{Label: "referrers have no tenant", Class: "untenanted", N: u.UntenantedReferrers, Indent: 2})
				if r.Agree == settenant.AgreeMajority {
					bars = append(bars, funnelBar{Label: "referrers tie", Class: "untenanted", N: u.ReferrersTie, Indent: 2})
				} else {
					bars = append(bars, funnelBar{Label: "referrers disagree", Class: "untenanted", N: u.ReferrersDisagree, Indent: 2})
				}
			} else {
				bars = append(bars,
					funnelBar{Label: "null reference", Class: "untenanted", N: u.NullReference, Indent: 2},
					funnelBar{Label: "referenced row has no tenant", Class: "untenanted", N: u.UntenantedReference, Indent: 2},
					funnelBar{Label: "dangling reference", Class: "untenanted", N: u.DanglingReference, Indent: 2})
			}
			if r.ChangedDuringRun > 0 {
				bars = append(bars, funnelBar{Label: "changed by others during the run", Class: "kept", N: r.ChangedDuringRun, Indent: 1})
			}
			for i := range bars {
				b := &bars[i]
				b.Indent *= 12
				b.Y = i * funnelStep
				if r.Matched > 0 {
					b.Width = int(float64(funnelWidth-b.Indent) * float64(b.N) / float64(r.Matched))
				}
				if b.N > 0 && b.Width < 2 {
					b.Width = 2 // a few rows of many are still seen
				}
				b.X = funnelLabel + b.Indent
				b.NumX = b.X + b.Width + 6
				b.TextY = b.Y + 17
			}
			rv.Funnel, rv.Width, rv.Height = bars, funnelSVGWidth, len(bars)*funnelStep+4
			for _, c := range r.Conflicts {
				rv.Conflicts += c.Rows
			}
			v.Conflicts += rv.Conflicts
		}
		v.Rules = append(v.Rules, rv)
	}
	return v
}

// verdict sums the run up: whether it is clean (it ran to its end and broke
// no reference), and in words. Rows a rule left without a tenant are not
// held against it: a later rule may give them one.
func (v *settenantView) verdict(res *settenant.Result) (bool, string) {
	what := "updated"
	switch {
	case res.Stopped != "":
		return false, "stopped after committing " + formatCount(res.CommittedRows) + " " + plural(res.CommittedRows, "row")
	case res.Check:
		what = "would update"
	case !res.Committed:
		what = "updated (not committed)"
	}
	n := int64(len(res.Rules))
	s := what + " " + formatCount(res.Updated) + " " + plural(res.Updated, "row") + " by " + formatCount(n) + " " + plural(n, "rule")
	if v.Conflicts > 0 {
		s += ", " + formatCount(v.Conflicts) + " in conflict with the reference rule"
	}
	return v.Conflicts == 0, s
}

// censusView is the tenant section: per-object totals for the template,
// and the census as compact columns for the page's script.
type censusView struct {
	Note    string
	Objects []objectTotal
	Tenants int
	Data    censusData
}

// objectTotal is one object's rows by owner kind.
type objectTotal struct {
	Name                      string
	Tenanted, Public, Unknown int64
}

// censusData is the census as the script reads it (JSON in the page):
// tenant i is Names[i], Keys[i], its parent Parents[i] (an index, -1 at a
// root or for a tenant on a cycle), its flags Flags[i] ("s" service
// provider, "i" inactive, "c" on a cycle) and Rows[i][j] rows of object j.
type censusData struct {
	Objects []string  `json:"objects"`
	Names   []string  `json:"names"`
	Keys    []string  `json:"keys"`
	Parents []int     `json:"parents"`
	Flags   []string  `json:"flags"`
	Rows    [][]int64 `json:"rows"`
}

func newCensusView(c *tenant.Census) *censusView {
	v := &censusView{Tenants: len(c.Tenants)}
	d := censusData{Objects: c.Objects, Rows: c.Rows}
	if d.Objects == nil {
		d.Objects = []string{}
	}
	if d.Rows == nil {
		d.Rows = [][]int64{}
	}
	h := tenant.NewHierarchy(c.Tenants)
	index := make(map[*tenant.Tenant]int, len(c.Tenants))
	for i, t := range c.Tenants {
		index[t] = i
	}
	for _, t := range c.Tenants {
		d.Names = append(d.Names, t.Name)
		d.Keys = append(d.Keys, t.ID)
		parent, flags := -1, ""
		if t.ServiceProvider {
			flags += "s"
		}
		if !t.Active {
			flags += "i"
		}
		if p := h.Parent(t); p != nil {
			if h.OnCycle(t) {
				flags += "c" // shown as a root, else no root would reach it
			} else {
				parent = index[p]
			}
		}
		d.Parents = append(d.Parents, parent)
		d.Flags = append(d.Flags, flags)
	}
	if d.Names == nil {
		d.Names, d.Keys, d.Parents, d.Flags = []string{}, []string{}, []int{}, []string{}
	}
	for j, name := range c.Objects {
		ot := objectTotal{Name: name, Public: c.Public[j], Unknown: c.Unknown[j]}
		for i := range c.Rows {
			ot.Tenanted += c.Rows[i][j]
		}
		v.Objects = append(v.Objects, ot)
	}
	v.Data = d
	return v
}

// formatCount writes n with thousands separators: 1,234,567.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func plural(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
