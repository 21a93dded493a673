package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestSmoke runs the whole harness at a tiny scale so that it cannot rot:
// every scenario runs, every contender either ran and produced the right
// result, or says why it was skipped. It asserts nothing about speed.
func TestSmoke(t *testing.T) {
	bin := testkit.Binary(t)
	out := t.TempDir()
	prefix := fmt.Sprintf("tkbench_smoke_%d", os.Getpid())
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--db", testkit.AdminURL(), "--bin", bin, "--scale", "1000",
		"--rss-scale", "2000", "--rounds", "1", "--out", out, "--prefix", prefix}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	var res Results
	js, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &res); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if res.Scale != 1000 || res.Rounds != 1 || res.Machine.Cores == 0 || res.Machine.Server == "" {
		t.Errorf("header: scale %d, rounds %d, machine %+v", res.Scale, res.Rounds, res.Machine)
	}
	if got, want := len(res.Scenarios), len(scenarios()); got != want {
		t.Fatalf("%d scenarios, want %d", got, want)
	}
	available := map[string]bool{}
	for _, c := range tenantkitCommands {
		available[c] = exec.Command(bin, c, "--help").Run() == nil
	}
	ran := 0
	for _, s := range res.Scenarios {
		for _, v := range s.Variants {
			name := s.Name + "/" + v.Name
			switch {
			case v.Status == statusOK:
				ran++
				if len(v.Seconds) != 1 || v.Median <= 0 || v.MaxRSSKB <= 0 {
					t.Errorf("%s: times %v, median %v, RSS %d", name, v.Seconds, v.Median, v.MaxRSSKB)
				}
				if !v.Reference && v.Ratio <= 0 && s.reference() != nil {
					t.Errorf("%s: no ratio to the reference", name)
				}
			case v.Tool == "pgloader" && v.Reason == "not installed: pgloader":
			case v.Tool == "tenantkit" && strings.Contains(v.Reason, "not available yet"):
				if cmd := strings.Fields(v.Name)[1]; available[cmd] && !strings.Contains(v.Reason, "needs") {
					t.Errorf("%s: skipped although the binary has %q: %s", name, cmd, v.Reason)
				}
			default:
				t.Errorf("%s: %s: %s", name, v.Status, v.Reason)
			}
		}
	}
	if ran < 4 {
		t.Errorf("only %d contenders ran; the psql references at least should", ran)
	}
	md, err := os.ReadFile(filepath.Join(out, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| comparison | contender |", `psql \copy (CSV) *(reference)*`, "## Goals (SPEC §5)", "**settenant**", "**rowscope**", "extract --sorted"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, md)
		}
	}
	if stdout.String() != string(md) {
		t.Error("stdout differs from RESULTS.md")
	}
	// Nothing is left behind on the server.
	db := testkit.NewDB(t)
	if n := db.Value(t, `SELECT count(*) FROM pg_database WHERE datname LIKE $1`, prefix+"%"); n != "0" {
		t.Errorf("%s databases left behind", n)
	}
}

func TestParseScale(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		out  string
	}{
		{"1M", 1_000_000, "1M"}, {"10m", 10_000_000, "10M"}, {"100k", 100_000, "100k"},
		{"2.5M", 2_500_000, "2.5M"}, {"1234", 1234, "1234"}, {"1500", 1500, "1.5k"},
	} {
		got, err := parseScale(tc.in)
		if err != nil || got != tc.want || formatScale(got) != tc.out {
			t.Errorf("parseScale(%q) = %d, %v (formatted %s); want %d, %s", tc.in, got, err, formatScale(got), tc.want, tc.out)
		}
	}
	for _, bad := range []string{"", "M", "-5", "1G", "ten"} {
		if _, err := parseScale(bad); err == nil {
			t.Errorf("parseScale(%q) succeeded", bad)
		}
	}
}

func TestFlags(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := parseFlags([]string{"--scale", "100k", "--only", "load, settenant"}, &stderr)
	if err != nil || cfg.Scale != 100_000 || cfg.RSSScale != 1_000_000 || cfg.Rounds != 3 || strings.Join(cfg.Only, ",") != "load,settenant" {
		t.Errorf("parseFlags = %+v, %v", cfg, err)
	}
	for _, args := range [][]string{{"--only", "nope"}, {"--rounds", "0"}, {"--scale", "5"}, {"extra"}, {"--rss-scale", "x"}, {"--rss-only", "load,nope"}} {
		if _, err := parseFlags(args, &stderr); err == nil {
			t.Errorf("parseFlags(%v) succeeded", args)
		}
	}
}

func TestGoalsAndMarkdown(t *testing.T) {
	res := &Results{Scale: 1000, Rounds: 3, Date: "today", Command: "go run ./bench", Scenarios: []ScenarioResult{
		{Name: "load", Title: "load", Rows: 1000, Variants: []VariantResult{
			{Name: "tenantkit userload (.dat)", Tool: "tenantkit", Status: statusOK, Seconds: []float64{1.2, 1.1, 5}},
			{Name: "tenantkit userload (.csv)", Tool: "tenantkit", Status: statusSkipped, Reason: "skipped: `tenantkit userload` is not available yet"},
			{Name: `psql \copy (CSV)`, Tool: "psql", Reference: true, Status: statusOK, Seconds: []float64{1, 1, 1}},
			{Name: "pgloader (CSV)", Tool: "pgloader", Status: statusOK, Seconds: []float64{1.1, 1.1, 1.1}},
		}},
		{Name: "verify", Title: "verify", Rows: 2000, Variants: []VariantResult{
			{Name: "tenantkit verify", Tool: "tenantkit", Status: statusOK, Seconds: []float64{61}},
		}},
	}}
	for i := range res.Scenarios {
		res.Scenarios[i].summarize()
	}
	if v := res.Scenarios[0].Variants[0]; v.Median != 1.2 || fmt.Sprintf("%.2f", v.Ratio) != "1.20" {
		t.Errorf("median %v, ratio %v; want 1.2, 1.20", v.Median, v.Ratio)
	}
	res.Goals = evaluateGoals(res)
	met := map[string]string{}
	for _, g := range res.Goals {
		s := "n/a"
		if g.Met != nil {
			s = fmt.Sprint(*g.Met)
		}
		met[g.Goal+" / "+g.Contender] = s
	}
	want := map[string]string{
		"userload inserts at ≥ 80% of psql \\copy speed / tenantkit userload (.dat)":    "true",
		"userload inserts at ≥ 80% of psql \\copy speed / tenantkit userload (.csv)":    "n/a",
		"userload is faster than pgloader on the same data / tenantkit userload (.dat)": "false",
		"verify of the whole database in seconds (< 60 s) / tenantkit verify":           "false",
	}
	for k, v := range want {
		if met[k] != v {
			t.Errorf("%s: met = %s, want %s (all: %v)", k, met[k], v, met)
		}
	}
	md := res.Markdown()
	for _, line := range []string{
		"| **load** — load (1,000 rows) | tenantkit userload (.dat) | 1.20 s | 833 |  | 1.20 | 1.20, 1.10, 5.00 |",
		"|  | tenantkit userload (.csv) | skipped: `tenantkit userload` is not available yet | | | | |",
		`|  | psql \copy (CSV) *(reference)* | 1.00 s | 1,000 |  | 1.00 | 1.00, 1.00, 1.00 |`,
		"| userload is faster than pgloader on the same data | tenantkit userload (.dat) | 1.09× (1.20 s / 1.10 s) | < 1.00× | **no** |",
	} {
		if !strings.Contains(md, line+"\n") {
			t.Errorf("Markdown lacks\n%s\nin\n%s", line, md)
		}
	}
}

func TestMemoryScales(t *testing.T) {
	main := &ScenarioResult{Name: "load", Scale: 1_000_000, Variants: []VariantResult{
		{Name: "tenantkit userload (.dat)", Tool: "tenantkit", Status: statusOK, MaxRSSKB: 40 << 10, Median: 9},
		{Name: `psql \copy (CSV)`, Tool: "psql", Status: statusOK, MaxRSSKB: 13 << 10, Median: 8},
	}}
	small := &ScenarioResult{Name: "load", Scale: 100_000, Variants: []VariantResult{
		{Name: "tenantkit userload (.dat)", Tool: "tenantkit", Status: statusOK, MaxRSSKB: 30 << 10, Median: 1},
	}}
	m := &Memory{Scales: []int64{100_000, 1_000_000}}
	m.add(main, small)
	if len(m.Rows) != 1 || m.Rows[0].RSSKB[0] != 30<<10 || m.Rows[0].RSSKB[1] != 40<<10 || m.Rows[0].Seconds[1] != 9 {
		t.Fatalf("rows = %+v", m.Rows)
	}
	md := (&Results{Scale: 1_000_000, Memory: m}).Markdown()
	want := "| load | tenantkit userload (.dat) | 30 MB | 40 MB | 1.33× | 1.00 s | 9.00 s |\n"
	if !strings.Contains(md, "ran once more at 100k rows") || !strings.Contains(md, want) {
		t.Errorf("Markdown lacks %q:\n%s", want, md)
	}
}
