// Command bench measures tenantkit against the tools a DBA would otherwise
// use — psql \copy, hand-written SQL and pgloader — on generated data of a
// chosen scale, in one run, and writes the results as Markdown and JSON.
//
// Each comparison runs its contenders side by side at every scale asked for,
// over several rounds (A B, then B A, …), each run on a fresh database
// copied from a template, and reports medians, the ratio tenantkit /
// reference, the growth of each contender from the smallest to the largest
// scale and the peak RSS of every run (from getrusage of the child process).
// tenantkit commands that do not exist yet are skipped with a line that says
// so.
//
// Usage (from the repository root; scripts/bench also installs pgloader):
//
//	go run ./bench [--scales 1M,10M] [--rounds 3] [--big-rounds 1] [--only load,extract] [--server-log]
//	go run ./bench --scale 1M [--rss-scale 10M]
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
	Scales        []int64 // ascending
	RSSScale      int64   // 0: none
	Rounds        int     // at the smallest scale
	BigRounds     int     // at every larger scale
	ServerLog     bool
	ServerLogFile string
	Only          []string
	RSSOnly       []string
	Out           string
	Work          string
	Seed          int64
	Prefix        string
	KeepTemplates bool
	TemplatesOnly bool
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
	if cfg.TemplatesOnly {
		if err := makeTemplates(ctx, cfg, stderr); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 3
		}
		return 0
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
	var scale, scales, rssScale, only, rssOnly string
	fs.StringVar(&cfg.DB, "db", "", "admin connection URL of the server to benchmark on (default: TENANTKIT_BENCH_DATABASE_URL, else DATABASE_URL, else scripts/pg-ensure)")
	fs.StringVar(&cfg.Bin, "bin", "", "tenantkit binary (default: build ./cmd/tenantkit)")
	fs.StringVar(&scales, "scales", "", "comma-separated scales at which every comparison runs, each a row count of the largest table: 100k, 1M, 10M or a number (default: 1M,10M)")
	fs.StringVar(&scale, "scale", "", "run every comparison at this one scale only (instead of --scales); --rss-scale then repeats the tenantkit runs at a second one")
	fs.StringVar(&rssScale, "rss-scale", "", "further scale at which every tenantkit run is repeated once, without its references, to show that peak RSS is flat (default with --scale: 10 × --scale; with --scales: none; 0 = skip)")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "rounds of each comparison (A B, B A, …) at the smallest scale")
	fs.IntVar(&cfg.BigRounds, "big-rounds", 1, "rounds of each comparison at every larger scale")
	fs.BoolVar(&cfg.ServerLog, "server-log", false, "keep every run's statement durations in trace/ of --out and sum them up in RESULTS.md: tenantkit's own (TENANTKIT_TRACE) and, for every contender, the server's (log_min_duration_statement = 0 on the run's database, read from --server-log-file)")
	fs.StringVar(&cfg.ServerLogFile, "server-log-file", "", "the server's log file, readable here, with the database name in log_line_prefix (%d, e.g. /var/log/postgresql/postgresql-15-main.log; default: pg_current_logfile() when the logging collector runs)")
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run: "+strings.Join(scenarioNames(), ", "))
	fs.StringVar(&rssOnly, "rss-only", "", "comma-separated scenarios repeated at --rss-scale (default: every scenario run)")
	fs.StringVar(&cfg.Out, "out", "", "directory for RESULTS.md and results.json (default: bench/ of the repository)")
	fs.StringVar(&cfg.Work, "work", "", "directory for data files (default: a temporary directory, removed afterwards)")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the generated data")
	fs.BoolVar(&cfg.TemplatesOnly, "templates-only", false, "only generate the template databases of every scale and keep them (a later run reuses them), e.g. while the machine is still busy; no timings, no results files")
	fs.StringVar(&cfg.Prefix, "prefix", "tkbench", "prefix of the databases the benchmark creates")
	fs.BoolVar(&cfg.KeepTemplates, "keep-templates", false, "keep the generated template databases for the next run")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [flags]   (or scripts/bench [flags])\n\n"+
			"Benchmarks tenantkit against psql \\copy, hand-written SQL and pgloader on generated data.\n\n"+
			"Examples:\n  go run ./bench --scales 100k,1M --rounds 1\n  go run ./bench --scale 1M --only load,upsert --rss-scale 0\n  scripts/bench --scales 1M,10M --rounds 3 --big-rounds 1 --server-log\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	switch {
	case scale != "" && scales != "":
		return cfg, fmt.Errorf("--scale and --scales exclude each other")
	case scale != "":
		n, err := parseScale(scale)
		if err != nil || n < 10 {
			return cfg, fmt.Errorf("--scale %q: want a row count of at least 10, like 100k, 1M or 10M", scale)
		}
		cfg.Scales, cfg.RSSScale = []int64{n}, 10*n
	default:
		if scales == "" {
			scales = "1M,10M"
		}
		for _, f := range strings.Split(scales, ",") {
			n, err := parseScale(f)
			if err != nil || n < 10 {
				return cfg, fmt.Errorf("--scales %q: want row counts of at least 10, like 1M,10M", scales)
			}
			if !slices.Contains(cfg.Scales, n) {
				cfg.Scales = append(cfg.Scales, n)
			}
		}
		slices.Sort(cfg.Scales)
	}
	if rssScale != "" {
		if cfg.RSSScale, err = parseScale(rssScale); err != nil || (cfg.RSSScale != 0 && cfg.RSSScale < 10) {
			return cfg, fmt.Errorf("--rss-scale %q: want 0 or a row count of at least 10", rssScale)
		}
	}
	if slices.Contains(cfg.Scales, cfg.RSSScale) {
		cfg.RSSScale = 0 // measured there anyway
	}
	if cfg.Rounds < 1 {
		return cfg, fmt.Errorf("--rounds %d: want at least 1", cfg.Rounds)
	}
	if cfg.BigRounds < 1 {
		return cfg, fmt.Errorf("--big-rounds %d: want at least 1", cfg.BigRounds)
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
