// Command bench measures tenantkit against the tools a DBA would otherwise
// use — psql \copy, hand-written SQL and pgloader — on generated data of a
// chosen scale, in one run, and writes the results as Markdown and JSON.
//
// Each comparison runs its contenders side by side, alternating A B A B over
// several rounds, each run on a fresh database copied from a template, and
// reports medians, the ratio tenantkit / reference and the peak RSS of every
// run (from getrusage of the child process). tenantkit commands that do not
// exist yet are skipped with a line that says so.
//
// Usage (from the repository root; scripts/bench also installs pgloader):
//
//	go run ./bench [--scale 1M] [--rounds 3] [--only load,extract] [--rss-scale 10M]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the command line says.
type config struct {
	DB            string
	Bin           string
	Scale         int64
	RSSScale      int64
	Rounds        int
	Only          []string
	RSSOnly       []string
	Out           string
	Work          string
	Seed          int64
	Prefix        string
	KeepTemplates bool
	Command       string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	if cfg.Out == "" {
		root, err := repoRoot()
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 2
		}
		cfg.Out = filepath.Join(root, "bench")
	}
	res, err := benchmark(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 3
	}
	md := res.Markdown()
	if err := res.Write(cfg.Out, md); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 3
	}
	fmt.Fprint(stdout, md)
	fmt.Fprintf(stderr, "bench: wrote %s and %s\n",
		filepath.Join(cfg.Out, "RESULTS.md"), filepath.Join(cfg.Out, "results.json"))
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var scale, rssScale, only, rssOnly string
	fs.StringVar(&cfg.DB, "db", "", "admin connection URL of the server to benchmark on (default: TENANTKIT_BENCH_DATABASE_URL, else DATABASE_URL, else scripts/pg-ensure)")
	fs.StringVar(&cfg.Bin, "bin", "", "tenantkit binary (default: build ./cmd/tenantkit)")
	fs.StringVar(&scale, "scale", "1M", "rows in the largest table: 100k, 1M, 10M or a number")
	fs.StringVar(&rssScale, "rss-scale", "", "second scale at which every tenantkit run is repeated once to show that peak RSS is flat (default: 10 × --scale; 0 = skip)")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "rounds of each comparison (A B A B …)")
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run: "+strings.Join(scenarioNames(), ", "))
	fs.StringVar(&rssOnly, "rss-only", "", "comma-separated scenarios repeated at --rss-scale (default: every scenario run)")
	fs.StringVar(&cfg.Out, "out", "", "directory for RESULTS.md and results.json (default: bench/ of the repository)")
	fs.StringVar(&cfg.Work, "work", "", "directory for data files (default: a temporary directory, removed afterwards)")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the generated data")
	fs.StringVar(&cfg.Prefix, "prefix", "tkbench", "prefix of the databases the benchmark creates")
	fs.BoolVar(&cfg.KeepTemplates, "keep-templates", false, "keep the generated template databases for the next run")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [flags]   (or scripts/bench [flags])\n\n"+
			"Benchmarks tenantkit against psql \\copy, hand-written SQL and pgloader on generated data.\n\n"+
			"Examples:\n  go run ./bench --scale 100k --rounds 1\n  go run ./bench --scale 1M --only load,upsert\n  scripts/bench --scale 1M --rss-scale 10M\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.Scale, err = parseScale(scale); err != nil || cfg.Scale < 10 {
		return cfg, fmt.Errorf("--scale %q: want a row count of at least 10, like 100k, 1M or 10M", scale)
	}
	cfg.RSSScale = 10 * cfg.Scale
	if rssScale != "" {
		if cfg.RSSScale, err = parseScale(rssScale); err != nil || (cfg.RSSScale != 0 && cfg.RSSScale < 10) {
			return cfg, fmt.Errorf("--rss-scale %q: want 0 or a row count of at least 10", rssScale)
		}
	}
	if cfg.Rounds < 1 {
		return cfg, fmt.Errorf("--rounds %d: want at least 1", cfg.Rounds)
	}
	if cfg.Only, err = scenarioList("--only", only); err != nil {
		return cfg, err
	}
	if cfg.RSSOnly, err = scenarioList("--rss-only", rssOnly); err != nil {
		return cfg, err
	}
	// scripts/bench says how it was started; the results name that command.
	cfg.Command = "go run ./bench " + strings.Join(args, " ")
	if inv := os.Getenv("TENANTKIT_BENCH_INVOCATION"); inv != "" {
		cfg.Command = inv
	}
	return cfg, nil
}

// scenarioList reads a comma-separated list of scenario names.
func scenarioList(flagName, list string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.Contains(scenarioNames(), n) {
			return nil, fmt.Errorf("%s: unknown scenario %q (want %s)", flagName, n, strings.Join(scenarioNames(), ", "))
		}
		out = append(out, n)
	}
	return out, nil
}

// parseScale reads 100k, 1M, 2.5m, 10M or a plain number.
func parseScale(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "m"):
		mult, s = 1e6, strings.TrimSuffix(s, "m")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad scale %q", s)
	}
	return int64(f * mult), nil
}

// formatScale writes a row count the way --scale takes it.
func formatScale(n int64) string {
	switch {
	case n >= 1e6 && n%1e5 == 0:
		return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + "M"
	case n >= 1e3 && n%100 == 0:
		return strconv.FormatFloat(float64(n)/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatInt(n, 10)
}
