package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantkit/tenantkit/fixtures"
	"github.com/tenantkit/tenantkit/fixtures/gen"
	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// harness holds what every scenario needs: the server, the binaries, the
// work directory and the templates built so far.
type harness struct {
	cfg      config
	root     string // repository root
	bin      string // tenantkit binary
	work     string // data files
	log      io.Writer
	admin    *pgx.Conn
	server   *pgx.ConnConfig
	psql     string // "" when missing
	pgloader string // "" when missing
	// serverLog is the server's log file when --server-log can read it.
	serverLog string
	missing   map[string]string // tenantkit command → why it cannot run
	built     map[string]bool   // template databases made by this run
	files     map[string]string // input files written: path → "" or why writing failed
	runs      int
	cleanup   []func()
}

// templateVersion names the generator's output; bump it when the generated
// data changes so kept templates are rebuilt.
const templateVersion = "tenantkit bench template v1"

// tenantkitCommands are the commands the scenarios compare.
var tenantkitCommands = []string{"userload", "extract", "settenant", "verify", "buildtenant", "prepare"}

func newHarness(ctx context.Context, cfg config, log io.Writer) (*harness, error) {
	h := &harness{cfg: cfg, log: log, missing: map[string]string{}, built: map[string]bool{}, files: map[string]string{}}
	var err error
	if h.root, err = repoRoot(); err != nil {
		return nil, err
	}
	if h.cfg.DB == "" {
		if h.cfg.DB, err = h.defaultDB(ctx); err != nil {
			return nil, err
		}
	}
	if h.server, err = pgx.ParseConfig(h.cfg.DB); err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	if h.admin, err = pgx.ConnectConfig(ctx, h.server); err != nil {
		return nil, fmt.Errorf("connecting to the server: %w", err)
	}
	h.cleanup = append(h.cleanup, func() { h.admin.Close(context.Background()) })
	// The rowscope template's person; it stays while a kept template
	// still grants it something.
	h.cleanup = append(h.cleanup, func() {
		h.admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+sqlq.Ident(rowScopeReader))
	})
	if h.work = cfg.Work; h.work == "" {
		if h.work, err = os.MkdirTemp("", "tenantkit-bench-"); err != nil {
			return nil, err
		}
		h.cleanup = append(h.cleanup, func() { os.RemoveAll(h.work) })
	} else if err := os.MkdirAll(h.work, 0o755); err != nil {
		return nil, err
	}
	if h.bin = cfg.Bin; h.bin == "" {
		h.bin = filepath.Join(h.work, "tenantkit")
		fmt.Fprintf(log, "bench: building tenantkit\n")
		build := exec.CommandContext(ctx, "go", "build", "-o", h.bin, "./cmd/tenantkit")
		build.Dir = h.root
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/tenantkit: %v\n%s", err, out)
		}
	}
	if h.bin, err = filepath.Abs(h.bin); err != nil {
		return nil, err
	}
	h.detect(ctx)
	if cfg.ServerLog {
		h.serverLog = h.findServerLog(ctx)
	}
	return h, nil
}

// defaultDB is TENANTKIT_BENCH_DATABASE_URL, DATABASE_URL, or the server
// scripts/pg-ensure finds or starts.
func (h *harness) defaultDB(ctx context.Context) (string, error) {
	for _, v := range []string{"TENANTKIT_BENCH_DATABASE_URL", "DATABASE_URL"} {
		if s := os.Getenv(v); s != "" {
			return s, nil
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(h.root, "scripts", "pg-ensure"))
	cmd.Stderr = h.log
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/pg-ensure: %v (give --db URL)", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// detect finds which tenantkit commands exist (`tenantkit CMD --help` exits
// 0) and whether psql and pgloader are installed.
func (h *harness) detect(ctx context.Context) {
	for _, c := range slices.Concat(tenantkitCommands, []string{"convert"}) {
		cmd := exec.CommandContext(ctx, h.bin, c, "--help")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Run(); err != nil {
			h.missing[c] = fmt.Sprintf("skipped: `tenantkit %s` is not available yet", c)
		}
	}
	if p, err := exec.LookPath("psql"); err == nil {
		h.psql = p
	}
	if p, err := exec.LookPath("pgloader"); err == nil {
		h.pgloader = p
	}
}

// findServerLog is --server-log-file, else the file the server's logging
// collector writes now, else "" (the statement durations then come from
// tenantkit's own trace only).
func (h *harness) findServerLog(ctx context.Context) string {
	if h.cfg.ServerLogFile != "" {
		return h.cfg.ServerLogFile
	}
	var file, dir *string
	if err := h.admin.QueryRow(ctx, "SELECT pg_current_logfile(), current_setting('data_directory')").Scan(&file, &dir); err != nil || file == nil {
		return ""
	}
	p := *file
	if !filepath.IsAbs(p) && dir != nil {
		p = filepath.Join(*dir, p)
	}
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func (h *harness) close() {
	for i := len(h.cleanup) - 1; i >= 0; i-- {
		h.cleanup[i]()
	}
}

// dbURL is the connection URL of database name on the benchmark server.
func (h *harness) dbURL(name string) string {
	return connURL("postgres", h.server, name)
}

func connURL(scheme string, c *pgx.ConnConfig, name string) string {
	u := url.URL{Scheme: scheme, Path: "/" + name}
	if c.Password != "" {
		u.User = url.UserPassword(c.User, c.Password)
	} else {
		u.User = url.User(c.User)
	}
	if strings.HasPrefix(c.Host, "/") {
		u.RawQuery = url.Values{"host": {c.Host}, "port": {strconv.Itoa(int(c.Port))}}.Encode()
	} else {
		u.Host = fmt.Sprintf("%s:%d", c.Host, c.Port)
	}
	return u.String()
}

// exec runs a statement on the maintenance connection.
func (h *harness) exec(ctx context.Context, sql string) error {
	_, err := h.admin.Exec(ctx, sql)
	return err
}

func (h *harness) dropDB(ctx context.Context, name string) error {
	return h.exec(ctx, "DROP DATABASE IF EXISTS "+sqlq.Ident(name)+" WITH (FORCE)")
}

// freshDB copies a template into a new database and checkpoints, so the
// copy's writes do not land in the timed run.
func (h *harness) freshDB(ctx context.Context, template string) (string, error) {
	h.runs++
	name := fmt.Sprintf("%s_run_%d_%d", h.cfg.Prefix, os.Getpid(), h.runs)
	if err := h.dropDB(ctx, name); err != nil {
		return "", err
	}
	if err := h.exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s STRATEGY FILE_COPY",
		sqlq.Ident(name), sqlq.Ident(template))); err != nil {
		return "", fmt.Errorf("copying template %s: %w", template, err)
	}
	return name, h.exec(ctx, "CHECKPOINT")
}

// connect opens a connection to a database of the benchmark server.
func (h *harness) connect(ctx context.Context, name string) (*pgx.Conn, error) {
	cfg := h.server.Copy()
	cfg.Database = name
	return pgx.ConnectConfig(ctx, cfg)
}

// query runs a one-value query in a database and returns it as text.
func (h *harness) query(ctx context.Context, db, sql string) (string, error) {
	conn, err := h.connect(ctx, db)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var v *string
	if err := conn.QueryRow(ctx, sql, pgx.QueryExecModeSimpleProtocol).Scan(&v); err != nil {
		return "", fmt.Errorf("%s: %w", firstLine(sql), err)
	}
	if v == nil {
		return "NULL", nil
	}
	return *v, nil
}

// template returns the template database of a kind at a scale, generating it
// unless a complete one was kept from an earlier run.
func (h *harness) template(ctx context.Context, scale int64, kind string) (string, error) {
	opts, ok := templateOptions(scale, h.cfg.Seed)[kind]
	if !ok {
		return "", fmt.Errorf("unknown template kind %q", kind)
	}
	name := h.templateName(scale, kind)
	if h.built[name] {
		return name, nil
	}
	stamp := fmt.Sprintf("%s %+v", templateVersion, opts)
	var comment *string
	err := h.admin.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, name).Scan(&comment)
	switch {
	case err == nil && comment != nil && *comment == stamp:
		h.built[name] = true
		fmt.Fprintf(h.log, "bench: reusing template %s\n", name)
		return name, nil
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return "", err
	}
	fmt.Fprintf(h.log, "bench: generating template %s (%+v)\n", name, opts)
	start := time.Now()
	if err := h.dropDB(ctx, name); err != nil {
		return "", err
	}
	if err := h.exec(ctx, "CREATE DATABASE "+sqlq.Ident(name)); err != nil {
		return "", err
	}
	h.built[name] = true
	if !h.cfg.KeepTemplates {
		h.cleanup = append(h.cleanup, func() { h.dropDB(context.Background(), name) })
	}
	conn, err := h.connect(ctx, name)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	schema, err := fixtures.TargetSchema(ctx, conn)
	if err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, fixtures.Qualify(fixtures.SchemaSQL, schema)); err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	if _, err := gen.Generate(ctx, conn, opts); err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	if finish := templateFinish[kind]; finish != nil {
		if err := finish(ctx, h, name, conn); err != nil {
			return "", fmt.Errorf("template %s: %w", name, err)
		}
	}
	// Frozen and analyzed, so copies pay no hint-bit writes in timed runs.
	if _, err := conn.Exec(ctx, "VACUUM (FREEZE, ANALYZE)"); err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	conn.Close(ctx)
	if err := h.exec(ctx, fmt.Sprintf("COMMENT ON DATABASE %s IS %s", sqlq.Ident(name), sqlq.Lit(stamp))); err != nil {
		return "", err
	}
	fmt.Fprintf(h.log, "bench: template %s ready in %s\n", name, time.Since(start).Round(100*time.Millisecond))
	return name, nil
}

// templateName names the template database of a kind at a scale.
func (h *harness) templateName(scale int64, kind string) string {
	return fmt.Sprintf("%s_%d_s%d_%s", h.cfg.Prefix, scale, h.cfg.Seed, kind)
}

// templateOptions are the generator settings of each starting state. Scale
// is the number of contacts (and tickets); organizations are a hundredth.
func templateOptions(scale, seed int64) map[string]gen.Options {
	orgs := max(scale/100, 1)
	tenants := min(max(orgs/10, 1), 1000)
	return map[string]gen.Options{
		// Load target: organizations and locations, no contacts yet.
		"orgs": {Seed: seed, Orgs: orgs},
		// Upsert target and source of the load file: contacts 1…scale.
		"contacts": {Seed: seed, Orgs: orgs, Contacts: scale},
		// Source of the upsert file: contacts scale/2+1 … 3·scale/2 with
		// other values (another seed): half existing keys, half new.
		"upsert": {Seed: seed + 1, Orgs: orgs, Contacts: scale, ContactsFrom: scale/2 + 1},
		// settenant: organizations tenanted, contacts not yet.
		"settenant": {Seed: seed, Orgs: orgs, Contacts: scale, Tenants: tenants, Tenancy: gen.TenancyOrgs},
		// extract and verify: everything tenanted, contacts and tickets.
		"full": {Seed: seed, Orgs: orgs, Contacts: scale, Tickets: scale, Tenants: tenants, Tenancy: gen.TenancyAll},
		// buildtenant: the service provider and scale/10 pre-tenant organizations.
		"pretenant": {Seed: seed, Orgs: max(scale/10, 1), ServiceProvider: true},
		// prepare: "contacts" without the tenant columns of prepareTables
		// (templateFinish).
		"untenanted": {Seed: seed, Orgs: orgs, Contacts: scale},
		// rowscope: "full" with acl row scoping for one reader (templateFinish).
		"scoped": {Seed: seed, Orgs: max(orgs, 20), Contacts: scale, Tickets: scale, Tenants: max(tenants, 2), Tenancy: gen.TenancyAll},
	}
}

// templateFinish completes the kinds of template the generator alone does
// not make.
var templateFinish = map[string]func(ctx context.Context, h *harness, name string, conn *pgx.Conn) error{
	"untenanted": func(ctx context.Context, h *harness, name string, conn *pgx.Conn) error {
		for _, t := range prepareTables {
			if _, err := conn.Exec(ctx, "ALTER TABLE "+sqlq.Ident(t)+" DROP COLUMN tenant"); err != nil {
				return fmt.Errorf("dropping %s.tenant: %w", t, err)
			}
		}
		return nil
	},
	"scoped": func(ctx context.Context, h *harness, name string, conn *pgx.Conn) error {
		// A tenant column is indexed in any real multi-tenant database.
		if _, err := conn.Exec(ctx, "CREATE INDEX ON ca_contact (tenant)"); err != nil {
			return err
		}
		file := filepath.Join(h.work, "rowscope-acl.xml")
		if err := os.WriteFile(file, []byte(rowScopeACL), 0o600); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, h.bin, "--db", h.dbURL(name), "--quiet",
			"--schema", filepath.Join(h.root, "fixtures", "schema.xml"), "acl", "apply", "-f", file)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("acl apply: %v: %s", err, lastLines(string(out), 3))
		}
		return nil
	},
}

// outcome is what one timed child process did.
type outcome struct {
	Seconds float64
	RSSKB   int64
	Code    int
	Stderr  string
	// Errors are the ERROR lines of pgloader's output (it may exit 0
	// after errors), for the reason of a wrong result.
	Errors string
	// Statements are the statement durations of the run (--server-log).
	Statements []StatementTime
	// Writer is what the scenario's concurrent writer saw, if it has one.
	Writer *WriterRound
}

// timed runs a program and measures its wall time and peak RSS (getrusage
// of the child). Output goes to logFile when given, else is kept in memory
// (the last few kilobytes of stderr). env adds to the environment.
func (h *harness) timed(ctx context.Context, logFile string, env []string, prog string, args ...string) (outcome, error) {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = h.root
	cmd.Env = append(append(cleanEnv(), "PGOPTIONS=-c client_min_messages=warning"), env...)
	stderr := &tail{max: 4096}
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if logFile != "" {
		f, err := os.Create(logFile)
		if err != nil {
			return outcome{}, err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, io.MultiWriter(f, stderr)
	}
	start := time.Now()
	err := cmd.Run()
	o := outcome{Seconds: time.Since(start).Seconds(), Stderr: strings.TrimSpace(stderr.String())}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			o.RSSKB = ru.Maxrss // kilobytes on Linux
		}
		o.Code = cmd.ProcessState.ExitCode()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return o, fmt.Errorf("running %s: %w", filepath.Base(prog), err)
	}
	if ctx.Err() != nil {
		return o, ctx.Err()
	}
	return o, nil
}

// cleanEnv is the environment without settings that would redirect the
// tools to another database or overlay.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "DATABASE_URL", k == "TENANTKIT_SCHEMA", strings.HasPrefix(k, "PG"):
			continue
		}
		out = append(out, kv)
	}
	return out
}

// tail keeps the last max bytes written to it.
type tail struct {
	buf bytes.Buffer
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if t.buf.Len() > 2*t.max {
		b := t.buf.Bytes()[t.buf.Len()-t.max:]
		t.buf = *bytes.NewBuffer(append([]byte(nil), b...))
	}
	return len(p), nil
}

func (t *tail) String() string {
	b := t.buf.Bytes()
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	return string(b)
}

// repoRoot is the directory holding go.mod, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the benchmark inside the tenantkit repository (no go.mod found)")
		}
		dir = parent
	}
}

// psqlPath quotes a file name for psql's \copy.
func psqlPath(p string) string { return sqlq.Lit(p) }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}
