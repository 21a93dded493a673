package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Contender statuses.
const (
	statusOK      = "ok"
	statusSkipped = "skipped"
	statusFailed  = "failed"
)

// Results is one benchmark run, as written to results.json.
type Results struct {
	Date    string  `json:"date"`
	Machine Machine `json:"machine"`
	Command string  `json:"command"`
	// Scales are those at which every comparison ran, ascending.
	Scales []int64 `json:"scales"`
	// Rounds at the smallest scale, BigRounds at every larger one.
	Rounds    int `json:"rounds"`
	BigRounds int `json:"big_rounds"`
	// RSSScale, when set, is a further scale at which only the tenantkit
	// contenders ran, once.
	RSSScale int64 `json:"rss_scale,omitempty"`
	Seed     int64 `json:"seed"`
	// Scenarios are every comparison at every scale, scale after scale.
	Scenarios []ScenarioResult `json:"scenarios"`
	Goals     []GoalResult     `json:"goals"`
	Profiles  []Profile        `json:"profiles,omitempty"`
	Notes     []string         `json:"notes,omitempty"`
}

// ScenarioResult is one comparison at one scale.
type ScenarioResult struct {
	Name   string `json:"name"`
	Title  string `json:"title"`
	Scale  int64  `json:"scale"`
	Rows   int64  `json:"rows"`
	Rounds int    `json:"rounds"`
	// TenantkitOnly: the run at --rss-scale, without references.
	TenantkitOnly bool `json:"tenantkit_only,omitempty"`
	// Writer describes the transaction of the concurrent writer that ran
	// next to every contender, if any.
	Writer   string          `json:"writer,omitempty"`
	Variants []VariantResult `json:"variants"`
}

// VariantResult is one contender: its time and peak RSS in every round.
type VariantResult struct {
	Name      string    `json:"name"`
	Tool      string    `json:"tool"`
	Reference bool      `json:"reference,omitempty"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	Seconds   []float64 `json:"seconds,omitempty"`
	PeakRSSKB []int64   `json:"peak_rss_kb,omitempty"`
	Median    float64   `json:"median_seconds,omitempty"`
	MaxRSSKB  int64     `json:"max_rss_kb,omitempty"`
	// Ratio is this contender's median over the reference's.
	Ratio float64 `json:"ratio_to_reference,omitempty"`
	// Statements are the statement durations the contender reported
	// (--server-log), summed per statement in each round.
	Statements []StatementTime `json:"statements,omitempty"`
	// Writer is what the scenario's concurrent writer saw in each round,
	// WriterSummary that over the rounds (summarizeWriter).
	Writer        []WriterRound `json:"writer,omitempty"`
	WriterSummary *WriterRound  `json:"writer_summary,omitempty"`
}

// StatementTime is one statement's duration in each round, summed over its
// executions.
type StatementTime struct {
	SQL     string    `json:"sql"`
	Seconds []float64 `json:"seconds"`
}

// GoalResult is one goal (SPEC §5 or issue 24) at one scale against the
// measurements.
type GoalResult struct {
	Source    string `json:"source"`
	Goal      string `json:"goal"`
	Scenario  string `json:"scenario"`
	Scale     int64  `json:"scale"`
	Contender string `json:"contender,omitempty"`
	Measured  string `json:"measured"`
	Limit     string `json:"limit"`
	Met       *bool  `json:"met"` // null: not measured
}

// Profile is the CPU profile of a tenantkit run that missed a goal.
type Profile struct {
	Scenario  string  `json:"scenario"`
	Contender string  `json:"contender"`
	Scale     int64   `json:"scale"`
	Seconds   float64 `json:"seconds,omitempty"`
	Top       string  `json:"pprof_top,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// scenarioAt is the comparison of a name at a scale, or nil.
func (r *Results) scenarioAt(name string, scale int64) *ScenarioResult {
	for i := range r.Scenarios {
		if r.Scenarios[i].Name == name && r.Scenarios[i].Scale == scale {
			return &r.Scenarios[i]
		}
	}
	return nil
}

// allScales are the scales of every comparison that ran, --rss-scale
// included, ascending.
func (r *Results) allScales() []int64 {
	var out []int64
	for _, s := range r.Scenarios {
		out = appendNew(out, s.Scale)
	}
	slices.Sort(out)
	return out
}

// scenarioNames are the names of the comparisons in run order.
func (r *Results) scenarioNames() []string {
	var out []string
	for _, s := range r.Scenarios {
		out = appendNew(out, s.Name)
	}
	return out
}

// variantNames are the contenders of a comparison over every scale, in
// their order.
func (r *Results) variantNames(scenario string) []string {
	var out []string
	for _, s := range r.Scenarios {
		for _, v := range s.Variants {
			if s.Name == scenario {
				out = appendNew(out, v.Name)
			}
		}
	}
	return out
}

// appendNew appends x to xs unless xs holds it already.
func appendNew[T comparable](xs []T, x T) []T {
	if slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

func (s *ScenarioResult) variant(name string) *VariantResult {
	if s == nil {
		return nil
	}
	for i := range s.Variants {
		if s.Variants[i].Name == name {
			return &s.Variants[i]
		}
	}
	return nil
}

func (s *ScenarioResult) reference() *VariantResult {
	for i := range s.Variants {
		if s.Variants[i].Reference {
			return &s.Variants[i]
		}
	}
	return nil
}

// summarize computes medians, peak RSS and ratios.
func (s *ScenarioResult) summarize() {
	for i := range s.Variants {
		v := &s.Variants[i]
		if v.Status != statusOK || len(v.Seconds) == 0 {
			continue
		}
		v.Median = median(v.Seconds)
		v.WriterSummary = summarizeWriter(v.Writer)
		for _, kb := range v.PeakRSSKB {
			v.MaxRSSKB = max(v.MaxRSSKB, kb)
		}
	}
	ref := s.reference()
	if ref == nil || ref.Status != statusOK || ref.Median == 0 {
		return
	}
	for i := range s.Variants {
		if v := &s.Variants[i]; v != ref && v.Status == statusOK && v.Median > 0 {
			v.Ratio = v.Median / ref.Median
		}
	}
}

// ran is a contender's result at a scale when it ran there, else nil.
func (r *Results) ran(scenario, name string, scale int64) *VariantResult {
	v := r.scenarioAt(scenario, scale).variant(name)
	if v == nil || v.Status != statusOK || v.Median <= 0 {
		return nil
	}
	return v
}

// growth is a contender's median at the largest scale over its median at
// the smallest (0: it did not run at both).
func (r *Results) growth(scenario, name string) float64 {
	sc := r.allScales()
	if len(sc) < 2 {
		return 0
	}
	lo, hi := r.ran(scenario, name, sc[0]), r.ran(scenario, name, sc[len(sc)-1])
	if lo == nil || hi == nil {
		return 0
	}
	return hi.Median / lo.Median
}

// Goal sources.
const (
	sourceSpec    = "SPEC §5"
	sourceIssue   = "issue 24"
	sourceBoth    = "SPEC §5, issue 24"
	flatRSSGrowth = 1.25 // peak RSS at the largest scale over the smallest
)

// goal is one goal: tenantkit's contenders of a scenario over a reference
// contender, or an absolute time.
type goal struct {
	source   string
	text     string
	scenario string
	refScen  string
	// refNames: the fastest of them that ran is the reference.
	refNames []string
	limit    float64 // ratio limit (≤), or seconds when absolute
	// bigLimit, when set, replaces limit from bigFrom rows on.
	bigLimit float64
	bigFrom  int64
	strict   bool // < rather than ≤
	absolute bool
	// sorted: the goal is for the contenders running extract --sorted
	// (against the key-ordered reference); otherwise for the others.
	sorted bool
}

// limitAt is the goal's limit at a scale.
func (g goal) limitAt(scale int64) float64 {
	if g.bigLimit > 0 && scale >= g.bigFrom {
		return g.bigLimit
	}
	return g.limit
}

const (
	copyName     = `psql \copy (CSV)`
	copyToName   = `psql \copy (SELECT …) TO (CSV)`
	upsertRef    = `psql \copy to staging + INSERT … ON CONFLICT`
	updateFromRf = "psql UPDATE … FROM"
)

var goals = []goal{
	{source: sourceSpec, text: "userload inserts at ≥ 80% of psql \\copy speed", scenario: "load", refScen: "load", refNames: []string{copyName}, limit: 1.25},
	{source: sourceIssue, text: "load into an empty table ≥ 2.5× faster than psql \\copy into the same table (≥ 3× from 10M rows)", scenario: "load", refScen: "load", refNames: []string{copyName}, limit: 0.40, bigLimit: 1.0 / 3, bigFrom: 10_000_000},
	{source: sourceSpec, text: "userload is faster than pgloader on the same data (its fastest contender that ran)", scenario: "load", refScen: "load", refNames: []string{pgloaderName, pgloaderFastName, pgloaderFastFKName}, limit: 1, strict: true},
	{source: sourceSpec, text: "upsert takes ≤ 2× the time of COPY of the same rows", scenario: "upsert", refScen: "load", refNames: []string{copyName}, limit: 2},
	{source: sourceIssue, text: "upsert ≤ 1.25× the hand-written \\copy into staging + INSERT … ON CONFLICT", scenario: "upsert", refScen: "upsert", refNames: []string{upsertRef}, limit: 1.25},
	{source: sourceSpec, text: "extract at ≥ 80% of \\copy … TO speed", scenario: "extract", refScen: "extract", refNames: []string{copyToName}, limit: 1.25},
	{source: sourceIssue, text: "extract ≥ parity with \\copy … TO", scenario: "extract", refScen: "extract", refNames: []string{copyToName}, limit: 1},
	{source: sourceSpec, text: "extract --sorted at ≥ 80% of \\copy … ORDER BY key TO speed", scenario: "extract", refScen: "extract", refNames: []string{sortedCopyName}, limit: 1.25, sorted: true},
	{source: sourceIssue, text: "extract --sorted ≥ parity with \\copy … ORDER BY key TO", scenario: "extract", refScen: "extract", refNames: []string{sortedCopyName}, limit: 1, sorted: true},
	{source: sourceSpec, text: "settenant SREL rule ≤ 1.2× the hand-written UPDATE … FROM", scenario: "settenant", refScen: "settenant", refNames: []string{updateFromRf}, limit: 1.2},
	{source: sourceIssue, text: "settenant SREL rule ≤ 1.0× the hand-written UPDATE … FROM", scenario: "settenant", refScen: "settenant", refNames: []string{updateFromRf}, limit: 1},
	{source: sourceBoth, text: "verify of the whole database in seconds (< 60 s)", scenario: "verify", limit: 60, strict: true, absolute: true},
}

// fastest is the fastest of the named contenders that ran in s, or nil.
func fastest(s *ScenarioResult, names []string) *VariantResult {
	var best *VariantResult
	for _, n := range names {
		if v := s.variant(n); v != nil && v.Status == statusOK && v.Median > 0 && (best == nil || v.Median < best.Median) {
			best = v
		}
	}
	return best
}

// evaluateGoals checks every goal against each tenantkit contender at every
// scale, and that the peak RSS of every tenantkit contender stays flat from
// the smallest scale to the largest.
func evaluateGoals(r *Results) []GoalResult {
	var out []GoalResult
	for _, g := range goals {
		for i := range r.Scenarios {
			s := &r.Scenarios[i]
			if s.Name != g.scenario || s.TenantkitOnly {
				continue
			}
			lim := g.limitAt(s.Scale)
			limit := fmt.Sprintf("≤ %.2f×", lim)
			if g.strict {
				limit = fmt.Sprintf("< %.2f×", lim)
			}
			if g.absolute {
				limit = fmt.Sprintf("< %.0f s", lim)
			}
			for _, v := range s.Variants {
				if v.Tool != "tenantkit" || strings.Contains(v.Name, "--sorted") != g.sorted {
					continue
				}
				gr := GoalResult{Source: g.source, Goal: g.text, Scenario: s.Name, Scale: s.Scale, Contender: v.Name, Limit: limit}
				refScen := r.scenarioAt(g.refScen, s.Scale)
				var ref *VariantResult
				if refScen != nil {
					ref = fastest(refScen, g.refNames)
				}
				switch {
				case v.Status != statusOK:
					gr.Measured = v.Reason
				case g.absolute:
					gr.Measured = fmt.Sprintf("%.2f s", v.Median)
					gr.Met = ptr(v.Median < lim)
				case ref == nil:
					reason := "not run"
					if refScen != nil {
						if rv := refScen.variant(g.refNames[0]); rv != nil && rv.Reason != "" {
							reason = rv.Reason
						}
					}
					gr.Measured = "no reference: " + strings.Join(g.refNames, " or ") + ": " + reason
				default:
					ratio := v.Median / ref.Median
					gr.Measured = fmt.Sprintf("%.2f× (%.2f s / %.2f s)", ratio, v.Median, ref.Median)
					if len(g.refNames) > 1 {
						gr.Measured += " against " + ref.Name
					}
					gr.Met = ptr(ratio <= lim && !(g.strict && ratio >= lim))
				}
				out = append(out, gr)
			}
		}
	}
	return append(out, flatRSS(r)...)
}

// flatRSS is the memory goal: each tenantkit contender's peak RSS at the
// largest scale at most flatRSSGrowth × that at the smallest.
func flatRSS(r *Results) []GoalResult {
	sc := r.allScales()
	if len(sc) < 2 {
		return nil
	}
	lo, hi := sc[0], sc[len(sc)-1]
	var out []GoalResult
	for _, name := range r.scenarioNames() {
		for _, vn := range r.variantNames(name) {
			a, b := r.ran(name, vn, lo), r.ran(name, vn, hi)
			if v := r.scenarioAt(name, lo).variant(vn); v == nil || v.Tool != "tenantkit" {
				continue
			}
			gr := GoalResult{Source: sourceBoth, Goal: fmt.Sprintf("peak RSS stays flat from %s to %s rows", formatScale(lo), formatScale(hi)),
				Scenario: name, Scale: hi, Contender: vn, Limit: fmt.Sprintf("≤ %.2f×", flatRSSGrowth)}
			if a == nil || b == nil || a.MaxRSSKB <= 0 || b.MaxRSSKB <= 0 {
				gr.Measured = "did not run at both scales"
			} else {
				g := float64(b.MaxRSSKB) / float64(a.MaxRSSKB)
				gr.Measured = fmt.Sprintf("%.2f× (%s / %s)", g, formatKB(b.MaxRSSKB), formatKB(a.MaxRSSKB))
				gr.Met = ptr(g <= flatRSSGrowth)
			}
			out = append(out, gr)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// Write saves RESULTS.md and results.json in dir.
func (r *Results) Write(dir, md string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "RESULTS.md"), []byte(md), 0o644)
}

// Markdown renders the results for bench/RESULTS.md.
func (r *Results) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	scales := r.allScales()
	names := make([]string, len(r.Scales))
	for i, s := range r.Scales {
		names[i] = formatScale(s)
	}
	p("# tenantkit benchmark results\n\n")
	rounds := fmt.Sprintf("%d round(s)", r.Rounds)
	if len(r.Scales) > 1 {
		rounds = fmt.Sprintf("%d round(s) at %s, %d at the larger scale(s)", r.Rounds, names[0], r.BigRounds)
	}
	p("Run on %s with `%s`: every comparison at %s rows (contacts; tickets as many), %s, seed %d.\n",
		r.Date, strings.TrimSpace(r.Command), strings.Join(names, " and "), rounds, r.Seed)
	if r.RSSScale > 0 {
		p("The tenantkit contenders ran once more at %s rows, without their references, for peak RSS.\n", formatScale(r.RSSScale))
	}
	p("Contenders of a comparison run in turn, in reversed order every second round (A B, B A, A B …), each on a fresh copy of the same template database; times are wall-clock medians, RSS is the peak resident set of the process (getrusage).\n\n")
	p("Machine: %s.\n\n", r.Machine)

	lo, hi := int64(0), int64(0)
	if len(scales) > 1 {
		lo, hi = scales[0], scales[len(scales)-1]
	}
	p("## Comparisons side by side\n\n")
	p("Median time and × the comparison's reference at each scale")
	if hi > 0 {
		p("; growth is the time at %s over the time at %s, and “÷ reference's” that growth over the reference's: above 1 the contender grows faster than its reference", formatScale(hi), formatScale(lo))
	}
	p(".\n\n| comparison | contender |")
	align := "|---|---|"
	for _, sc := range scales {
		p(" %s | × ref |", formatScale(sc))
		align += "--:|--:|"
	}
	if hi > 0 {
		p(" growth %s/%s | ÷ reference's |", formatScale(hi), formatScale(lo))
		align += "--:|--:|"
	}
	p("\n%s\n", align)
	for _, sn := range r.scenarioNames() {
		title := "**" + sn + "**"
		refGrowth := 0.0
		for _, vn := range r.variantNames(sn) {
			if v := r.firstVariant(sn, vn); v != nil && v.Reference {
				refGrowth = r.growth(sn, vn)
			}
		}
		for _, vn := range r.variantNames(sn) {
			first := r.firstVariant(sn, vn)
			name := vn
			if first.Reference {
				name += " *(reference)*"
			}
			p("| %s | %s |", title, md(name))
			for _, sc := range scales {
				v := r.scenarioAt(sn, sc).variant(vn)
				switch {
				case v == nil:
					p(" | |")
				case v.Status != statusOK:
					p(" %s | |", v.Status)
				default:
					ratio := ""
					switch {
					case v.Reference:
						ratio = "1.00"
					case v.Ratio > 0:
						ratio = fmt.Sprintf("%.2f", v.Ratio)
					}
					p(" %.2f s | %s |", v.Median, ratio)
				}
			}
			if hi > 0 {
				g, rel := r.growth(sn, vn), ""
				if g > 0 && refGrowth > 0 && !first.Reference {
					rel = fmt.Sprintf("%.2f", g/refGrowth)
				}
				p(" %s | %s |", ratioOrBlank(g), rel)
			}
			p("\n")
			title = ""
		}
	}

	p("\n## Goals\n\n")
	p("Goals from SPEC §5 (the product contract) and from issue 24, at every scale; a limit on a ratio is tenantkit's median over the reference's.\n\n")
	p("| source | goal | rows | contender | measured | limit | met |\n|---|---|--:|---|---|---|---|\n")
	for _, g := range r.Goals {
		met := "not measured"
		if g.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*g.Met]
		}
		p("| %s | %s | %s | %s | %s | %s | %s |\n", g.Source, md(g.Goal), formatScale(g.Scale), md(g.Contender), md(g.Measured), g.Limit, met)
	}

	p("\n## Peak RSS per scale\n\n")
	p("Largest peak RSS over the rounds; flat memory means the same RSS at every scale.\n\n")
	scaleHeader(p, "| comparison | contender |", "|---|---|", scales)
	for _, sn := range r.scenarioNames() {
		for _, vn := range r.variantNames(sn) {
			p("| %s | %s |", sn, md(vn))
			for _, sc := range scales {
				kb := int64(0)
				if v := r.ran(sn, vn, sc); v != nil {
					kb = v.MaxRSSKB
				}
				p(" %s |", formatKB(kb))
			}
			if hi > 0 {
				g := ""
				if a, b := r.ran(sn, vn, lo), r.ran(sn, vn, hi); a != nil && b != nil && a.MaxRSSKB > 0 {
					g = fmt.Sprintf("%.2f×", float64(b.MaxRSSKB)/float64(a.MaxRSSKB))
				}
				p(" %s |", g)
			}
			p("\n")
		}
	}

	for _, sc := range scales {
		p("\n## Every round at %s rows\n\n", formatScale(sc))
		p("| comparison | contender | median | rows/s | peak RSS | × reference | rounds (s) |\n")
		p("|---|---|--:|--:|--:|--:|---|\n")
		for _, s := range r.Scenarios {
			if s.Scale != sc {
				continue
			}
			title := fmt.Sprintf("**%s** — %s (%s rows)", s.Name, s.Title, formatCount(s.Rows))
			for _, v := range s.Variants {
				name := v.Name
				if v.Reference {
					name += " *(reference)*"
				}
				switch v.Status {
				case statusOK:
					ratio := ""
					switch {
					case v.Reference:
						ratio = "1.00"
					case v.Ratio > 0:
						ratio = fmt.Sprintf("%.2f", v.Ratio)
					}
					p("| %s | %s | %.2f s | %s | %s | %s | %s |\n", title, md(name), v.Median,
						formatCount(int64(math.Round(float64(s.Rows)/v.Median))), formatKB(v.MaxRSSKB), ratio, formatSeconds(v.Seconds))
				default:
					p("| %s | %s | %s | | | | |\n", title, md(name), md(statusText(v)))
				}
				title = ""
			}
		}
	}
	r.writerMarkdown(p, scales)
	r.statementsMarkdown(p, scales)
	if len(r.Profiles) > 0 {
		p("\n## CPU profiles of the runs that missed a goal\n\n")
		p("Each ran once more with `TENANTKIT_CPUPROFILE`; `go tool pprof -top` of tenantkit's own CPU time. ")
		p("A total far below the wall time means the time went to the PostgreSQL server, not to tenantkit.\n")
		for _, pr := range r.Profiles {
			p("\n### %s at %s rows: %s\n\n", pr.Scenario, formatScale(pr.Scale), pr.Contender)
			if pr.Error != "" {
				p("No profile: %s\n", pr.Error)
				continue
			}
			p("Wall time of the profiled run: %.2f s.\n\n```\n%s\n```\n", pr.Seconds, pr.Top)
		}
	}
	if len(r.Notes) > 0 {
		p("\n## Notes\n\n")
		for _, n := range r.Notes {
			p("- %s\n", md(n))
		}
	}
	return b.String()
}

// writerMarkdown lists, for every comparison that ran with a concurrent
// writer, what the writer saw while each contender ran: the transactions it
// committed (and per second of the run), their p99 and largest latency.
func (r *Results) writerMarkdown(p func(string, ...any), scales []int64) {
	header := false
	for _, sc := range scales {
		for _, s := range r.Scenarios {
			if s.Scale != sc || s.Writer == "" {
				continue
			}
			if !header {
				p("\n## Lock waits of a concurrent writer\n\n")
				p("While each contender of these comparisons ran, a concurrent writer (a connection of the harness) looped over small write transactions and timed each one. ")
				p("Transactions it committed during the run (median over the rounds, and per second of the run), their p99 latency (median over the rounds) and their largest (over every round): a transaction that waits for a lock the contender holds shows here.\n\n")
				p("| comparison | rows | contender | transactions | per second | p99 latency | max latency | rounds (transactions / p99 / max) |\n")
				p("|---|--:|---|--:|--:|--:|--:|---|\n")
				header = true
			}
			title := fmt.Sprintf("**%s** — %s", s.Name, md(s.Writer))
			for _, v := range s.Variants {
				name := v.Name
				if v.Reference {
					name += " *(reference)*"
				}
				w := v.WriterSummary
				if v.Status != statusOK || w == nil {
					p("| %s | %s | %s | %s | | | | |\n", title, formatScale(s.Scale), md(name), md(statusText(v)))
				} else {
					rounds := make([]string, len(v.Writer))
					for i, wr := range v.Writer {
						rounds[i] = fmt.Sprintf("%d / %s / %s", wr.Transactions, formatMS(wr.P99MS), formatMS(wr.MaxMS))
					}
					perSecond := ""
					if v.Median > 0 {
						perSecond = fmt.Sprintf("%.0f", float64(w.Transactions)/v.Median)
					}
					p("| %s | %s | %s | %d | %s | %s | %s | %s |\n", title, formatScale(s.Scale), md(name), w.Transactions, perSecond,
						formatMS(w.P99MS), formatMS(w.MaxMS), strings.Join(rounds, "; "))
				}
				title = ""
			}
		}
	}
}

// formatMS writes a latency in milliseconds, in seconds from 1 s on.
func formatMS(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

// statementsTop is how many statements of a contender RESULTS.md lists.
const statementsTop = 8

// statementsMarkdown lists, for every contender that reported statement
// durations (--server-log), its slowest statements at each scale (median
// over the rounds) and their growth, next to the reference's wall time.
func (r *Results) statementsMarkdown(p func(string, ...any), scales []int64) {
	header := false
	for _, sn := range r.scenarioNames() {
		for _, vn := range r.variantNames(sn) {
			per := map[string][]float64{} // statement → median per scale
			for i, sc := range scales {
				v := r.scenarioAt(sn, sc).variant(vn)
				if v == nil {
					continue
				}
				for _, st := range v.Statements {
					if per[st.SQL] == nil {
						per[st.SQL] = make([]float64, len(scales))
					}
					per[st.SQL][i] = median(st.Seconds)
				}
			}
			if len(per) == 0 {
				continue
			}
			if !header {
				p("\n## Statement durations (--server-log)\n\n")
				p("Each statement's duration as a tenantkit contender reports it (`TENANTKIT_TRACE`) and, marked [server], as the server logged it for any contender (`log_min_duration_statement`), summed over its executions in a run, median over the rounds; digits in statements are written N. ")
				p("The last rows are the wall time of the whole run and of the comparison's reference. The full traces are in trace/ next to this file.\n")
				header = true
			}
			stmts := make([]string, 0, len(per))
			for k := range per {
				stmts = append(stmts, k)
			}
			last := len(scales) - 1
			sort.Slice(stmts, func(i, j int) bool {
				a, b := per[stmts[i]], per[stmts[j]]
				if a[last] != b[last] {
					return a[last] > b[last]
				}
				return stmts[i] < stmts[j]
			})
			p("\n### %s: %s\n\n", sn, md(vn))
			scaleHeader(p, "| statement |", "|---|", scales)
			row := func(label string, xs []float64) {
				p("| %s |", label)
				for _, x := range xs {
					p(" %s |", secondsOrBlank(x))
				}
				if last > 0 {
					g := 0.0
					if xs[0] > 0 && xs[last] > 0 {
						g = xs[last] / xs[0]
					}
					p(" %s |", ratioOrBlank(g))
				}
				p("\n")
			}
			for i, st := range stmts {
				if i == statementsTop {
					p("| … %d more | |\n", len(stmts)-statementsTop)
					break
				}
				row("`"+md(shorten(st, 140))+"`", per[st])
			}
			walls := make([]float64, len(scales))
			refs := make([]float64, len(scales))
			refName := ""
			for i, sc := range scales {
				s := r.scenarioAt(sn, sc)
				if v := r.ran(sn, vn, sc); v != nil {
					walls[i] = v.Median
				}
				if s != nil {
					if ref := s.reference(); ref != nil && ref.Status == statusOK {
						refs[i], refName = ref.Median, ref.Name
					}
				}
			}
			row("*whole run (wall time)*", walls)
			if refName != "" && refName != vn {
				row("*reference: "+md(refName)+" (wall time)*", refs)
			}
		}
	}
}

// scaleHeader writes a table header: the leading columns, one per scale
// and, with more than one scale, a growth column.
func scaleHeader(p func(string, ...any), head, align string, scales []int64) {
	p("%s", head)
	for _, sc := range scales {
		p(" %s |", formatScale(sc))
		align += "--:|"
	}
	if len(scales) > 1 {
		p(" growth |")
		align += "--:|"
	}
	p("\n%s\n", align)
}

func ratioOrBlank(x float64) string {
	if x <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", x)
}

// shorten cuts s to at most n runes.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// firstVariant is a contender's result at the first scale where it appears.
func (r *Results) firstVariant(scenario, name string) *VariantResult {
	for i := range r.Scenarios {
		if r.Scenarios[i].Name == scenario {
			if v := r.Scenarios[i].variant(name); v != nil {
				return v
			}
		}
	}
	return nil
}

func statusText(v VariantResult) string {
	switch {
	case v.Status == statusSkipped:
		return v.Reason
	case v.Status == statusFailed:
		return "failed: " + v.Reason
	}
	return v.Status
}

// md makes text safe inside a Markdown table cell.
func md(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func formatKB(kb int64) string {
	if kb <= 0 {
		return ""
	}
	return fmt.Sprintf("%.0f MB", float64(kb)/1024)
}

func formatSeconds(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, ", ")
}

func secondsOrBlank(x float64) string {
	if x == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f s", x)
}

// formatCount writes 1234567 as 1,234,567.
func formatCount(n int64) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
