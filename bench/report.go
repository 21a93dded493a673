package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Contender statuses.
const (
	statusOK      = "ok"
	statusSkipped = "skipped"
	statusFailed  = "failed"
)

// Results is one benchmark run, as written to results.json.
type Results struct {
	Date      string           `json:"date"`
	Machine   Machine          `json:"machine"`
	Command   string           `json:"command"`
	Scale     int64            `json:"scale"`
	Rounds    int              `json:"rounds"`
	Seed      int64            `json:"seed"`
	Scenarios []ScenarioResult `json:"scenarios"`
	Goals     []GoalResult     `json:"goals"`
	Memory    *Memory          `json:"memory,omitempty"`
	Profiles  []Profile        `json:"profiles,omitempty"`
	Notes     []string         `json:"notes,omitempty"`
}

// ScenarioResult is one comparison.
type ScenarioResult struct {
	Name     string          `json:"name"`
	Title    string          `json:"title"`
	Scale    int64           `json:"scale"`
	Rows     int64           `json:"rows"`
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
}

// GoalResult is one goal of SPEC §5 against the measurements.
type GoalResult struct {
	Goal      string `json:"goal"`
	Scenario  string `json:"scenario"`
	Contender string `json:"contender,omitempty"`
	Measured  string `json:"measured"`
	Limit     string `json:"limit"`
	Met       *bool  `json:"met"` // null: not measured
}

// Profile is the CPU profile of a tenantkit run that missed a goal.
type Profile struct {
	Scenario  string  `json:"scenario"`
	Contender string  `json:"contender"`
	Seconds   float64 `json:"seconds,omitempty"`
	Top       string  `json:"pprof_top,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// Memory is the peak RSS of every tenantkit contender at two scales.
type Memory struct {
	Scales []int64     `json:"scales"`
	Rows   []MemoryRow `json:"rows,omitempty"`
	Note   string      `json:"note,omitempty"`
}

// MemoryRow is one contender's peak RSS per scale (0: not measured).
type MemoryRow struct {
	Scenario string    `json:"scenario"`
	Name     string    `json:"name"`
	RSSKB    []int64   `json:"peak_rss_kb"`
	Seconds  []float64 `json:"median_seconds"`
}

func (r *Results) scenario(name string) *ScenarioResult {
	for i := range r.Scenarios {
		if r.Scenarios[i].Name == name {
			return &r.Scenarios[i]
		}
	}
	return nil
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

// add records a contender's peak RSS and time at both scales: main is the
// scenario at the main scale, other the tenantkit-only run at the RSS scale.
func (m *Memory) add(main, other *ScenarioResult) {
	at := func(s *ScenarioResult) int {
		if s.Scale == m.Scales[0] {
			return 0
		}
		return 1
	}
	for _, v := range other.Variants {
		if v.Tool != "tenantkit" {
			continue
		}
		row := MemoryRow{Scenario: other.Name, Name: v.Name, RSSKB: make([]int64, 2), Seconds: make([]float64, 2)}
		if a := main.variant(v.Name); a != nil && a.Status == statusOK {
			row.RSSKB[at(main)], row.Seconds[at(main)] = a.MaxRSSKB, a.Median
		}
		if v.Status == statusOK {
			row.RSSKB[at(other)], row.Seconds[at(other)] = v.MaxRSSKB, v.Median
		}
		if row.RSSKB[0] > 0 || row.RSSKB[1] > 0 {
			m.Rows = append(m.Rows, row)
		}
	}
}

// goal is one line of SPEC §5: tenantkit's contenders of a scenario over a
// reference contender, or an absolute time.
type goal struct {
	text     string
	scenario string
	refScen  string
	refName  string
	limit    float64 // ratio limit (≤), or seconds when absolute
	strict   bool    // < rather than ≤
	absolute bool
	// sorted: the goal is for the contenders running extract --sorted
	// (against the key-ordered reference); otherwise for the others.
	sorted bool
}

var goals = []goal{
	{text: "userload inserts at ≥ 80% of psql \\copy speed", scenario: "load", refScen: "load", refName: `psql \copy (CSV)`, limit: 1.25},
	{text: "userload is faster than pgloader on the same data", scenario: "load", refScen: "load", refName: "pgloader (CSV)", limit: 1, strict: true},
	{text: "upsert takes ≤ 2× the time of COPY of the same rows", scenario: "upsert", refScen: "load", refName: `psql \copy (CSV)`, limit: 2},
	{text: "extract at ≥ 80% of \\copy … TO speed", scenario: "extract", refScen: "extract", refName: `psql \copy (SELECT …) TO (CSV)`, limit: 1.25},
	{text: "extract --sorted at ≥ 80% of \\copy … ORDER BY key TO speed", scenario: "extract", refScen: "extract", refName: sortedCopyName, limit: 1.25, sorted: true},
	{text: "settenant SREL rule ≤ 1.2× the hand-written UPDATE … FROM", scenario: "settenant", refScen: "settenant", refName: "psql UPDATE … FROM", limit: 1.2},
	{text: "verify of the whole database in seconds (< 60 s)", scenario: "verify", limit: 60, strict: true, absolute: true},
}

// evaluateGoals checks every goal against each tenantkit contender.
func evaluateGoals(r *Results) []GoalResult {
	var out []GoalResult
	for _, g := range goals {
		s := r.scenario(g.scenario)
		if s == nil {
			continue
		}
		limit := fmt.Sprintf("≤ %.2f×", g.limit)
		if g.strict {
			limit = fmt.Sprintf("< %.2f×", g.limit)
		}
		if g.absolute {
			limit = fmt.Sprintf("< %.0f s", g.limit)
		}
		for _, v := range s.Variants {
			if v.Tool != "tenantkit" || strings.Contains(v.Name, "--sorted") != g.sorted {
				continue
			}
			gr := GoalResult{Goal: g.text, Scenario: s.Name, Contender: v.Name, Limit: limit}
			ref := r.scenario(g.refScen).variant(g.refName)
			switch {
			case v.Status != statusOK:
				gr.Measured = v.Reason
			case g.absolute:
				gr.Measured = fmt.Sprintf("%.2f s", v.Median)
				gr.Met = ptr(v.Median < g.limit)
			case ref == nil || ref.Status != statusOK || ref.Median == 0:
				reason := "not run"
				if ref != nil {
					reason = ref.Reason
				}
				gr.Measured = "no reference: " + g.refName + ": " + reason
			default:
				ratio := v.Median / ref.Median
				gr.Measured = fmt.Sprintf("%.2f× (%.2f s / %.2f s)", ratio, v.Median, ref.Median)
				gr.Met = ptr(ratio <= g.limit && !(g.strict && ratio >= g.limit))
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
	p("# tenantkit benchmark results\n\n")
	p("Run on %s with `%s`: scale %s rows (contacts; tickets as many), %d round(s), seed %d.\n",
		r.Date, strings.TrimSpace(r.Command), formatScale(r.Scale), r.Rounds, r.Seed)
	p("Contenders of a comparison run in turn, round after round (A B A B …), each on a fresh copy of the same template database; times are wall-clock medians, RSS is the peak resident set of the process (getrusage).\n\n")
	p("Machine: %s.\n\n", r.Machine)
	p("## Comparisons\n\n")
	p("| comparison | contender | median | rows/s | peak RSS | × reference | rounds (s) |\n")
	p("|---|---|--:|--:|--:|--:|---|\n")
	for _, s := range r.Scenarios {
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
	p("\n## Goals (SPEC §5)\n\n")
	p("| goal | contender | measured | limit | met |\n|---|---|---|---|---|\n")
	for _, g := range r.Goals {
		met := "not measured"
		if g.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*g.Met]
		}
		p("| %s | %s | %s | %s | %s |\n", md(g.Goal), md(g.Contender), md(g.Measured), g.Limit, met)
	}
	if m := r.Memory; m != nil {
		p("\n## Peak RSS at two scales\n\n")
		if m.Note != "" {
			p("%s at %s and %s rows.\n", m.Note, formatScale(m.Scales[0]), formatScale(m.Scales[1]))
		} else {
			other := m.Scales[1]
			if other == r.Scale {
				other = m.Scales[0]
			}
			p("Every tenantkit contender ran once more at %s rows; flat memory means the same RSS at both scales.\n\n", formatScale(other))
			p("| comparison | contender | RSS at %s | RSS at %s | growth | time at %s | time at %s |\n|---|---|--:|--:|--:|--:|--:|\n",
				formatScale(m.Scales[0]), formatScale(m.Scales[1]), formatScale(m.Scales[0]), formatScale(m.Scales[1]))
			for _, row := range m.Rows {
				growth := ""
				if row.RSSKB[0] > 0 && row.RSSKB[1] > 0 {
					growth = fmt.Sprintf("%.2f×", float64(row.RSSKB[1])/float64(row.RSSKB[0]))
				}
				p("| %s | %s | %s | %s | %s | %s | %s |\n", row.Scenario, md(row.Name), formatKB(row.RSSKB[0]), formatKB(row.RSSKB[1]),
					growth, secondsOrBlank(row.Seconds[0]), secondsOrBlank(row.Seconds[1]))
			}
		}
	}
	if len(r.Profiles) > 0 {
		p("\n## CPU profiles of the runs that missed a goal\n\n")
		p("Each ran once more with `TENANTKIT_CPUPROFILE`; `go tool pprof -top` of tenantkit's own CPU time. ")
		p("A total far below the wall time means the time went to the PostgreSQL server, not to tenantkit.\n")
		for _, pr := range r.Profiles {
			p("\n### %s: %s\n\n", pr.Scenario, pr.Contender)
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
