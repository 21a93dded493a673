package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// skipError says why a contender cannot run; it is reported, not a failure.
type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }

// benchmark runs every selected scenario at each scale, smallest first
// (dropping a scale's templates and files before the next), then every
// tenantkit contender once at the RSS scale when one is set.
func benchmark(ctx context.Context, cfg config, log io.Writer) (*Results, error) {
	h, err := newHarness(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer h.close()
	res := &Results{
		Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Machine: h.machine(ctx),
		Command: cfg.Command, Scales: cfg.Scales, Rounds: cfg.Rounds, BigRounds: cfg.BigRounds, Seed: cfg.Seed,
	}
	for _, c := range tenantkitCommands {
		if r, ok := h.missing[c]; ok {
			res.Notes = append(res.Notes, r)
		}
	}
	if h.pgloader == "" {
		res.Notes = append(res.Notes, "pgloader is not installed (scripts/bench installs it as root): its column says so")
	}
	if cfg.ServerLog && h.serverLog == "" {
		res.Notes = append(res.Notes, "--server-log: no readable server log (give --server-log-file), so the statement durations are tenantkit's own (TENANTKIT_TRACE, userload only) and the references have none")
	}
	if cfg.ServerLog {
		// The traces of an earlier run would mix with this run's.
		if err := os.RemoveAll(filepath.Join(cfg.Out, "trace")); err != nil {
			return nil, err
		}
	}
	var selected []scenario
	for _, sc := range scenarios() {
		if len(cfg.Only) == 0 || slices.Contains(cfg.Only, sc.Name) {
			selected = append(selected, sc)
		}
	}
	for i, scale := range cfg.Scales {
		rounds := cfg.Rounds
		if i > 0 {
			rounds = cfg.BigRounds
		}
		for _, sc := range selected {
			res.Scenarios = append(res.Scenarios, h.runScenario(ctx, sc, scale, rounds, false))
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
		// Profiles need the scale's templates, which go next.
		res.Goals = evaluateGoals(res)
		res.Profiles = append(res.Profiles, h.profileUnmet(ctx, res, selected, scale)...)
		h.dropScale(ctx, scale)
	}
	if cfg.RSSScale > 0 {
		ran := false
		for _, sr := range res.Scenarios {
			for _, v := range sr.Variants {
				ran = ran || (v.Tool == "tenantkit" && v.Status == statusOK)
			}
		}
		if !ran {
			res.Notes = append(res.Notes, fmt.Sprintf("peak RSS at %s rows not measured: no tenantkit command ran at the other scales", formatScale(cfg.RSSScale)))
		} else {
			res.RSSScale = cfg.RSSScale
			for _, sc := range selected {
				if len(cfg.RSSOnly) > 0 && !slices.Contains(cfg.RSSOnly, sc.Name) {
					continue
				}
				res.Scenarios = append(res.Scenarios, h.runScenario(ctx, sc, cfg.RSSScale, 1, true))
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
			}
			h.dropScale(ctx, cfg.RSSScale)
		}
	}
	res.Goals = evaluateGoals(res)
	return res, nil
}

// makeTemplates generates and keeps every template database of every scale,
// so that a later run spends its time on the timed runs only.
func makeTemplates(ctx context.Context, cfg config, log io.Writer) error {
	cfg.KeepTemplates = true
	h, err := newHarness(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer h.close()
	for _, scale := range cfg.Scales {
		kinds := slices.Sorted(maps.Keys(templateOptions(scale, cfg.Seed)))
		for _, kind := range kinds {
			if _, err := h.template(ctx, scale, kind); err != nil {
				return err
			}
		}
	}
	return nil
}

// profileUnmet runs every tenantkit contender that misses a goal at a scale
// once more with a CPU profile (TENANTKIT_CPUPROFILE) and keeps pprof's top
// entries, which name the bottleneck. A profile that holds little CPU time
// says the time went to the server.
func (h *harness) profileUnmet(ctx context.Context, res *Results, selected []scenario, scale int64) []Profile {
	var out []Profile
	done := map[string]bool{}
	for _, g := range res.Goals {
		key := g.Scenario + "/" + g.Contender
		if g.Scale != scale || g.Met == nil || *g.Met || done[key] || strings.HasPrefix(g.Goal, "peak RSS") {
			continue
		}
		done[key] = true
		i := slices.IndexFunc(selected, func(s scenario) bool { return s.Name == g.Scenario })
		if i < 0 {
			continue
		}
		sc := selected[i]
		j := slices.IndexFunc(sc.Variants, func(v variant) bool { return v.Name == g.Contender })
		if j < 0 {
			continue
		}
		p := Profile{Scenario: sc.Name, Contender: g.Contender, Scale: scale}
		if err := h.profile(ctx, sc, sc.Variants[j], scale, &p); err != nil {
			p.Error = err.Error()
		}
		out = append(out, p)
	}
	return out
}

func (h *harness) profile(ctx context.Context, sc scenario, v variant, scale int64, p *Profile) error {
	tpl, err := h.template(ctx, scale, sc.Template)
	if err != nil {
		return err
	}
	shared := ""
	if sc.Shared {
		if shared, err = h.freshDB(ctx, tpl); err != nil {
			return err
		}
		defer h.dropDB(context.Background(), shared)
	}
	f, err := os.CreateTemp(h.work, "cpu-*.prof")
	if err != nil {
		return err
	}
	f.Close()
	prof := f.Name()
	defer os.Remove(prof)
	o, _, err := h.runOnce(ctx, sc, v, scale, tpl, shared, "", "TENANTKIT_CPUPROFILE="+prof)
	if err != nil {
		return err
	}
	p.Seconds = o.Seconds
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=15", h.bin, prof).Output()
	if err != nil {
		return fmt.Errorf("go tool pprof: %w", err)
	}
	p.Top = strings.TrimSpace(string(top))
	fmt.Fprintf(h.log, "bench: profiled %s %s:\n%s\n", sc.Name, v.Name, p.Top)
	return nil
}

// unavailable says why a contender cannot run on this machine now, or "".
func (h *harness) unavailable(v variant) string {
	switch v.Tool {
	case "tenantkit":
		if r, ok := h.missing[v.Command]; ok {
			return r
		}
	case "psql":
		if h.psql == "" {
			return "not installed: psql"
		}
	case "pgloader":
		if h.pgloader == "" {
			return "not installed: pgloader"
		}
	}
	return ""
}

func (h *harness) program(tool string) string {
	switch tool {
	case "tenantkit":
		return h.bin
	case "psql":
		return h.psql
	}
	return h.pgloader
}

// runScenario runs the contenders of a scenario in turn, round after round,
// each on a fresh copy of the template (or on one shared copy for read-only
// work).
func (h *harness) runScenario(ctx context.Context, sc scenario, scale int64, rounds int, tenantkitOnly bool) ScenarioResult {
	res := ScenarioResult{Name: sc.Name, Title: sc.Title, Scale: scale, Rows: sc.Rows(scale), Rounds: rounds, TenantkitOnly: tenantkitOnly}
	if sc.Writer != nil {
		res.Writer = sc.Writer.Text
	}
	var live []int     // indexes into res.Variants of the contenders that run
	var defs []variant // the definitions, aligned with res.Variants
	for _, v := range sc.Variants {
		if tenantkitOnly && v.Tool != "tenantkit" {
			continue
		}
		vr := VariantResult{Name: v.Name, Tool: v.Tool, Reference: v.Reference, Status: statusOK}
		if reason := h.unavailable(v); reason != "" {
			vr.Status, vr.Reason = statusSkipped, reason
		} else {
			live = append(live, len(res.Variants))
		}
		res.Variants = append(res.Variants, vr)
		defs = append(defs, v)
	}
	if len(live) == 0 {
		return res
	}
	fail := func(vr *VariantResult, err error) {
		var skip *skipError
		if errors.As(err, &skip) {
			vr.Status, vr.Reason = statusSkipped, skip.reason
			return
		}
		vr.Status, vr.Reason = statusFailed, err.Error()
		fmt.Fprintf(h.log, "bench: %s: %s failed: %v\n", sc.Name, vr.Name, err)
	}
	tpl, err := h.template(ctx, scale, sc.Template)
	want := ""
	if err == nil && sc.Expect != nil {
		want, err = sc.Expect(ctx, h, scale)
	}
	if err != nil {
		for _, i := range live {
			fail(&res.Variants[i], fmt.Errorf("preparing: %w", err))
		}
		return res
	}
	shared := ""
	if sc.Shared {
		if shared, err = h.freshDB(ctx, tpl); err != nil {
			for _, i := range live {
				fail(&res.Variants[i], err)
			}
			return res
		}
		defer h.dropDB(context.Background(), shared)
	}
	for round := 1; round <= rounds; round++ {
		// A B, then B A, …: no contender always runs first, right after
		// the previous comparison's load on the server.
		order := slices.Clone(live)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, i := range order {
			vr := &res.Variants[i]
			if vr.Status != statusOK || ctx.Err() != nil {
				continue
			}
			trace := ""
			if h.cfg.ServerLog {
				trace = h.traceFile(sc.Name, vr.Name, scale, round)
			}
			o, got, err := h.runOnce(ctx, sc, defs[i], scale, tpl, shared, trace)
			if err != nil {
				fail(vr, err)
				continue
			}
			if sc.Fingerprint != "" {
				if want == "" {
					want = got
				} else if got != want {
					fail(vr, wrongResult(got, want, o.Errors))
					continue
				}
			}
			vr.Seconds = append(vr.Seconds, o.Seconds)
			vr.PeakRSSKB = append(vr.PeakRSSKB, o.RSSKB)
			if o.Writer != nil {
				vr.Writer = append(vr.Writer, *o.Writer)
			}
			if trace != "" {
				addStatements(vr, round, o.Statements)
			}
			fmt.Fprintf(h.log, "bench: %s %s round %d/%d: %s %.2f s, peak RSS %s\n",
				sc.Name, formatScale(scale), round, rounds, vr.Name, o.Seconds, formatKB(o.RSSKB))
		}
	}
	res.summarize()
	return res
}

// runOnce prepares a database, runs one contender, checks its exit code and
// result, and cleans up. It returns the result's fingerprint. trace, when
// set (--server-log), is the file that receives a tenantkit contender's
// output with TENANTKIT_TRACE=1; the run's lines of the server log go next
// to it (.server.log) when the server log is readable. The outcome's
// Statements are the durations of both.
func (h *harness) runOnce(ctx context.Context, sc scenario, v variant, scale int64, tpl, shared, trace string, env ...string) (outcome, string, error) {
	db := shared
	if db == "" {
		var err error
		if db, err = h.freshDB(ctx, tpl); err != nil {
			return outcome{}, "", err
		}
		defer h.dropDB(context.Background(), db)
	}
	if h.cfg.ServerLog {
		// Whoever reads the server log finds every statement of the run
		// under the run's database name.
		if err := h.exec(ctx, "ALTER DATABASE "+sqlq.Ident(db)+" SET log_min_duration_statement = 0"); err != nil {
			return outcome{}, "", err
		}
	}
	if shared != "" || h.cfg.ServerLog {
		if err := h.exec(ctx, "CHECKPOINT"); err != nil {
			return outcome{}, "", err
		}
	}
	dir, err := os.MkdirTemp(h.work, "run-")
	if err != nil {
		return outcome{}, "", err
	}
	defer os.RemoveAll(dir)
	r := &runEnv{h: h, scale: scale, db: db, url: h.dbURL(db), dir: dir}
	args, err := v.Args(ctx, r)
	if err != nil {
		return outcome{}, "", err
	}
	logFile := ""
	if trace != "" {
		if err := os.MkdirAll(filepath.Dir(trace), 0o755); err != nil {
			return outcome{}, "", err
		}
	}
	switch {
	case v.Tool == "pgloader":
		logFile = filepath.Join(dir, "pgloader.out")
	case trace != "" && v.Tool == "tenantkit":
		logFile = trace
		env = append(env, "TENANTKIT_TRACE=1")
	}
	logFrom := int64(-1)
	if trace != "" && h.serverLog != "" {
		if fi, err := os.Stat(h.serverLog); err == nil {
			logFrom = fi.Size()
		}
	}
	var w *writer
	if sc.Writer != nil {
		if w, err = h.startWriter(ctx, db, sc.Writer, scale); err != nil {
			return outcome{}, "", err
		}
		defer w.finish()
	}
	o, err := h.timed(ctx, logFile, env, h.program(v.Tool), args...)
	if w != nil {
		wr, werr := w.finish()
		o.Writer = &wr
		if err == nil && werr != nil {
			err = werr
		}
	}
	if err != nil {
		return o, "", err
	}
	if logFile == trace && trace != "" {
		o.Statements = parseTrace(readFile(trace))
	}
	if logFrom >= 0 {
		// Before the harness's own queries, which the database logs too.
		time.Sleep(100 * time.Millisecond)
		lines, err := serverLogLines(h.serverLog, logFrom, db)
		if err != nil {
			return o, "", err
		}
		if err := os.WriteFile(strings.TrimSuffix(trace, ".log")+".server.log", []byte(lines), 0o644); err != nil {
			return o, "", err
		}
		o.Statements = append(o.Statements, parseServerLog(lines)...)
	}
	if logFile != "" {
		o.Errors = errorLines(readFile(logFile), 3)
	}
	okCodes := v.ExitOK
	if okCodes == nil {
		okCodes = []int{0}
	}
	if !slices.Contains(okCodes, o.Code) {
		return o, "", fmt.Errorf("exit %d: %s", o.Code, lastLines(o.Stderr, 3))
	}
	if v.Check != nil {
		if err := v.Check(ctx, r); err != nil {
			return o, "", err
		}
	}
	got := ""
	if sc.Fingerprint != "" {
		if got, err = h.query(ctx, db, sc.Fingerprint); err != nil {
			return o, "", err
		}
	}
	return o, got, nil
}

// file writes an input file once per scale: kind is the template it comes
// from, ext its format (csv by COPY, so it does not depend on tenantkit;
// dat by tenantkit extract).
func (h *harness) file(ctx context.Context, scale int64, kind, ext string) (string, error) {
	dir := filepath.Join(h.work, fmt.Sprint(scale), kind)
	path := filepath.Join(dir, "ca_contact."+ext)
	key := path
	if v, ok := h.files[key]; ok {
		if v != "" {
			return "", errors.New(v)
		}
		return path, nil
	}
	err := h.writeFile(ctx, scale, kind, ext, dir, path)
	if err != nil {
		var skip *skipError
		if errors.As(err, &skip) {
			return "", err // not memoized: the next scale reports it again
		}
		h.files[key] = fmt.Sprintf("writing %s: %v", path, err)
		return "", errors.New(h.files[key])
	}
	h.files[key] = ""
	return path, nil
}

func (h *harness) writeFile(ctx context.Context, scale int64, kind, ext, dir, path string) error {
	tpl, err := h.template(ctx, scale, kind)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	start := time.Now()
	switch ext {
	case "csv":
		conn, err := h.connect(ctx, tpl)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if _, err := conn.PgConn().CopyTo(ctx, f, "COPY ca_contact ("+contactColumns+") TO STDOUT WITH (FORMAT csv, HEADER true)"); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	case "dat":
		// tenantkit extract writes it; until extract exists, convert turns
		// the CSV into the same rows in userload format.
		r := &runEnv{h: h, url: h.dbURL(tpl)}
		step, args := "extract", r.tk("extract", "-o", path, "ca_contact")
		if _, ok := h.missing["extract"]; ok {
			if _, ok := h.missing["convert"]; ok {
				return &skipError{"skipped: needs `tenantkit extract` or `tenantkit convert` (not available yet) to write the userload file"}
			}
			csv, err := h.file(ctx, scale, kind, "csv")
			if err != nil {
				return err
			}
			step, args = "convert", []string{"--quiet", "convert", csv, path}
		}
		o, err := h.timed(ctx, "", nil, h.bin, args...)
		if err != nil {
			return err
		}
		if o.Code != 0 {
			return fmt.Errorf("tenantkit %s: exit %d: %s", step, o.Code, lastLines(o.Stderr, 3))
		}
	}
	fmt.Fprintf(h.log, "bench: wrote %s in %s\n", path, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// dropScale removes a scale's files, and its templates unless they are kept.
func (h *harness) dropScale(ctx context.Context, scale int64) {
	os.RemoveAll(filepath.Join(h.work, fmt.Sprint(scale)))
	for k := range h.files {
		if strings.HasPrefix(k, filepath.Join(h.work, fmt.Sprint(scale))+string(filepath.Separator)) {
			delete(h.files, k)
		}
	}
	if h.cfg.KeepTemplates {
		return
	}
	for kind := range templateOptions(scale, h.cfg.Seed) {
		if name := h.templateName(scale, kind); h.built[name] {
			h.dropDB(ctx, name)
			delete(h.built, name)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// wrongResult says that a run's fingerprint differs from the expected one,
// with what the program said went wrong. pgloader's "drop indexes" cannot
// drop an index that a foreign key of another table depends on; that is
// named as such.
func wrongResult(got, want, errs string) error {
	if strings.Contains(errs, "cannot drop") {
		return fmt.Errorf("pgloader's drop indexes cannot drop an index another table's foreign key depends on, so it loaded nothing (%s)", errs)
	}
	if errs != "" {
		return fmt.Errorf("wrong result: %s, expected %s; it said: %s", got, want, errs)
	}
	return fmt.Errorf("wrong result: %s, expected %s", got, want)
}

// errorLines are the first n lines of a program's output that report an
// error, joined.
func errorLines(out string, n int) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 2 && f[1] == "ERROR" {
			// pgloader: "2026-12-04T01:28:22.535999Z ERROR Database error …"
			lines = append(lines, strings.Join(f[2:], " "))
		}
		if len(lines) == n {
			break
		}
	}
	return strings.Join(lines, " / ")
}

// traceFile is where --server-log keeps a tenantkit run's trace:
// trace/SCALE/SCENARIO/CONTENDER.roundN.log under --out.
func (h *harness) traceFile(scenario, contender string, scale int64, round int) string {
	return filepath.Join(h.cfg.Out, "trace", formatScale(scale), scenario, fmt.Sprintf("%s.round%d.log", slug(contender), round))
}

// slug makes a contender's name a file name: lower-case letters and digits
// joined by dashes.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}

// traceLine is one line of TENANTKIT_TRACE output:
// "userload:    1.234s INSERT INTO …".
var traceLine = regexp.MustCompile(`^[a-z][a-z-]*: +([0-9]+(?:\.[0-9]+)?)s (.+)$`)

// digits are written N in a traced statement, so that a statement run per
// batch or with a generated name counts as one.
var digits = regexp.MustCompile(`[0-9]+`)

// parseTrace sums the durations of each statement of a trace, in the order
// the statements first appear.
func parseTrace(out string) []StatementTime {
	var stmts []StatementTime
	at := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		m := traceLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		secs, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			continue
		}
		sql := digits.ReplaceAllString(strings.Join(strings.Fields(m[2]), " "), "N")
		i, ok := at[sql]
		if !ok {
			i = len(stmts)
			at[sql] = i
			stmts = append(stmts, StatementTime{SQL: sql, Seconds: []float64{0}})
		}
		stmts[i].Seconds[0] += secs
	}
	return stmts
}

// addStatements records one round's statement durations (from parseTrace)
// in a contender's result; a statement absent from a round counts 0 there.
func addStatements(vr *VariantResult, round int, stmts []StatementTime) {
	for _, st := range stmts {
		i := slices.IndexFunc(vr.Statements, func(s StatementTime) bool { return s.SQL == st.SQL })
		if i < 0 {
			i = len(vr.Statements)
			vr.Statements = append(vr.Statements, StatementTime{SQL: st.SQL})
		}
		vr.Statements[i].Seconds = append(vr.Statements[i].Seconds, make([]float64, max(0, round-len(vr.Statements[i].Seconds)))...)
		vr.Statements[i].Seconds[round-1] += st.Seconds[0]
	}
	for i := range vr.Statements {
		vr.Statements[i].Seconds = append(vr.Statements[i].Seconds, make([]float64, max(0, round-len(vr.Statements[i].Seconds)))...)
	}
}

// serverLogLines are the lines of the server log from offset on that a
// database's sessions wrote ("…@DB " in log_line_prefix, as Debian's
// default '%m [%p] %q%u@%d ' has it), with their continuation lines.
func serverLogLines(path string, offset int64, db string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "", err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return "", fmt.Errorf("reading the server log %s: %w", path, err)
	}
	var b strings.Builder
	keep := false
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.HasPrefix(line, "\t") {
			if keep {
				b.WriteString(line)
			}
			continue
		}
		keep = strings.Contains(line, "@"+db+" ")
		if keep {
			b.WriteString(line)
		}
	}
	return b.String(), nil
}

// serverDuration is a statement's duration in the server log
// (log_min_duration_statement).
var serverDuration = regexp.MustCompile(`LOG:  duration: ([0-9]+(?:\.[0-9]+)?) ms  (?:statement|parse|bind|execute)[^:]*: (.*)$`)

// parseServerLog sums the durations the server logged for each statement,
// in the order the statements first appear; each is marked [server].
func parseServerLog(lines string) []StatementTime {
	var b strings.Builder
	for _, line := range strings.Split(lines, "\n") {
		if strings.HasPrefix(line, "\t") {
			b.WriteString(" " + strings.TrimSpace(line))
			continue
		}
		if m := serverDuration.FindStringSubmatch(line); m != nil {
			ms, err := strconv.ParseFloat(m[1], 64)
			if err == nil {
				fmt.Fprintf(&b, "\nserver: %.6fs [server] %s", ms/1000, m[2])
			}
		}
	}
	return parseTrace(b.String())
}
