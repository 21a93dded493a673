package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/dbconn"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/internal/pgfault"
	"github.com/tenantkit/tenantkit/internal/progress"
	"github.com/tenantkit/tenantkit/internal/runlock"
	"github.com/tenantkit/tenantkit/internal/sqlq"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// loader holds the state of one run.
type loader struct {
	opts    Options
	schema  *schema.Schema
	tx      pgx.Tx
	sum     *Summary
	groups  []*group
	bySig   map[string]*group
	rereads []*section // fast-path sections refused by the database
	nuls    []nulReject
	next    int64 // record numbers handed out so far
	prog    *progress.Reporter
	// stdinCopy keeps what was read from standard input (see sectionReader).
	stdinCopy *os.File
	// valuePos is where the values named by rejects start (see
	// findValuePositions).
	valuePos map[fieldKey]datafile.Pos
	// tenant is the tenant of -t, nil without; serviceProvider may be nil.
	tenant, serviceProvider *tenant.Tenant
	// citus names the tables Citus distributes (with their distribution
	// columns); nil without Citus.
	citus map[string]string
	// keyMaps names, per object, the temporary table mapping the labels of
	// Options.NewKeys to the new keys.
	keyMaps map[*schema.Object]string
	// rejectsTmp is the rejects file written under a temporary name in its
	// directory, renamed to RejectsFile once the load commits.
	rejectsTmp string
	// applying says what the change statements of the moment do, for
	// their failures.
	applying string
	// badMu guards sum.BadSections, which the reader and the copier add to.
	badMu sync.Mutex
	// ownerMap says the owner map of shared sections exists (see shared.go).
	ownerMap bool
}

// addBad records a section skipped with Options.SkipBadSections.
func (l *loader) addBad(b BadSection) {
	l.badMu.Lock()
	defer l.badMu.Unlock()
	l.sum.BadSections = append(l.sum.BadSections, b)
}

// sortBad puts the skipped sections in file order.
func (l *loader) sortBad() {
	file := func(b BadSection) int { return slices.Index(l.opts.Files, b.Pos.File) }
	slices.SortStableFunc(l.sum.BadSections, func(a, b BadSection) int {
		if d := file(a) - file(b); d != 0 {
			return d
		}
		if d := a.Pos.Line - b.Pos.Line; d != 0 {
			return d
		}
		return a.Pos.Col - b.Pos.Col
	})
}

// Run loads the files of opts into the database described by s, in one
// transaction. The summary is returned whenever the files were read, also
// with an error: rejects without a rejects file are a fault.ErrRejected
// error after the rollback.
func Run(ctx context.Context, pool *pgxpool.Pool, s *schema.Schema, opts Options) (*Summary, error) {
	if len(opts.Files) == 0 {
		return nil, fault.Usagef("userload: no data file (use Options.Files)")
	}
	if opts.SkipBadSections && !opts.Check {
		return nil, fault.Usagef("userload: skipping bad sections is for check runs only")
	}
	for _, f := range opts.Files {
		if f == "-" {
			if opts.File.Stdin == nil {
				return nil, fault.Usage(fmt.Errorf("userload: %w", datafile.ErrNoStdin))
			}
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return nil, fault.Usage(fmt.Errorf("userload: %w", err))
		}
	}
	conn, release, err := runlock.Session(ctx, pool) // the session holding the run lock
	if err != nil {
		return nil, fault.Failure(fmt.Errorf("userload: connecting: %w", err))
	}
	defer release()
	if opts.Check {
		why, err := dbconn.ReadOnly(ctx, conn)
		if err != nil {
			return nil, fault.Failure(fmt.Errorf("userload: %w", err))
		}
		if why != "" {
			return nil, fault.Failure(fmt.Errorf("userload: Options.Check needs a writable database (it stages the files in temporary tables and rolls back): %s", why))
		}
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fault.Failure(fmt.Errorf("userload: starting the transaction: %w", err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	l := &loader{
		opts: opts, schema: s, tx: tx, bySig: map[string]*group{}, keyMaps: map[*schema.Object]string{},
		sum: &Summary{Mode: opts.Mode.String(), Checked: opts.Check},
	}
	defer func() { l.prog.Finish() }() // the phases after reading, up to the commit
	defer func() {
		if l.rejectsTmp != "" { // not committed: no rejects file
			os.Remove(l.rejectsTmp)
		}
	}()
	if slices.Contains(opts.Files, "-") {
		if l.stdinCopy, err = os.CreateTemp("", "tenantkit-userload-stdin-*"); err != nil {
			return nil, fault.Failure(fmt.Errorf("userload: keeping a copy of standard input: %w", err))
		}
		defer os.Remove(l.stdinCopy.Name())
		defer l.stdinCopy.Close()
	}
	if err := l.run(ctx); err != nil {
		return l.sum, err
	}
	if opts.Check {
		return l.sum, l.rejectError()
	}
	if l.sum.Rejected > 0 && opts.RejectsFile == "" {
		return l.sum, l.rejectError()
	}
	if err := runlock.Verify(ctx, tx); err != nil {
		return l.sum, fault.Failure(fmt.Errorf("userload: before committing: %w", err))
	}
	l.prog.Phase("committing")
	if err := tx.Commit(ctx); err != nil {
		return l.sum, fault.Failure(fmt.Errorf("userload: commit: %w", err))
	}
	l.sum.Committed = true
	if l.rejectsTmp != "" {
		if err := os.Rename(l.rejectsTmp, opts.RejectsFile); err != nil {
			return l.sum, fault.Failure(fmt.Errorf("userload: the load was committed but the rejects file could not be put in place: %w", err))
		}
		l.rejectsTmp = ""
	}
	return l.sum, l.rejectError()
}

func (l *loader) rejectError() error {
	if l.sum.Rejected == 0 {
		return nil
	}
	switch {
	case l.opts.Check:
		return fault.Rejects(fmt.Errorf("userload: %d record(s) would be rejected", l.sum.Rejected))
	case l.sum.Committed:
		return fault.Rejects(fmt.Errorf("userload: %d record(s) rejected and written to %s; the rest was loaded", l.sum.Rejected, l.opts.RejectsFile))
	}
	return fault.Rejects(fmt.Errorf("userload: %d record(s) rejected; nothing was loaded (use Options.RejectsFile for a partial load)", l.sum.Rejected))
}

func (l *loader) run(ctx context.Context) error {
	if err := l.readCitus(ctx); err != nil {
		return err
	}
	if err := l.setup(ctx); err != nil {
		return err
	}
	if err := l.resolveTenant(ctx); err != nil {
		return err
	}
	if err := l.readAll(ctx); err != nil {
		return err
	}
	if err := l.rereadRefused(ctx); err != nil {
		return err
	}
	if err := l.saveNulRejects(ctx); err != nil {
		return err
	}
	if err := l.applyAll(ctx); err != nil {
		return err
	}
	if !l.opts.Check { // setval is not rolled back: a check leaves sequences alone
		if err := l.advanceSequences(ctx); err != nil {
			return err
		}
	}
	return l.report(ctx)
}

// readAll streams every file into staging tables (or straight into the
// targets), reading and copying concurrently.
func (l *loader) readAll(ctx context.Context) error {
	var total int64
	for _, f := range l.opts.Files {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
	}
	l.prog = progress.New(l.opts.Progress, "userload", progress.Options{Total: total, Unit: "bytes", Bytes: true})
	defer l.prog.Finish() // the bar: the phases that follow show on their own
	sr := &sectionReader{files: l.opts.Files, opts: l.opts.File, schema: l.schema, onByte: l.prog.Add, onRows: l.prog.AddRows, stdinCopy: l.stdinCopy}
	if l.opts.SkipBadSections {
		sr.onBad = l.addBad
	}
	if user := sr.opts.OnLenientQuote; sr.opts.LenientQuotes {
		sr.opts.OnLenientQuote = func(p datafile.Pos) {
			l.sum.LenientQuotes++ // the reader runs in one goroutine; read after Wait
			if user != nil {
				user(p)
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	ch := make(chan batch, queueDepth)
	g.Go(func() error { return sr.run(gctx, ch) })
	// On an error, errgroup cancels gctx, which stops the reader.
	g.Go(func() error { return l.copyAll(gctx, &batchStream{ch: ch}) })
	err := g.Wait()
	l.next = sr.records
	l.sortBad()
	return err
}

// copyAll copies each section as it arrives.
func (l *loader) copyAll(ctx context.Context, stream *batchStream) error {
	for {
		b, ok := stream.next()
		if !ok {
			return nil
		}
		stream.peeked = &b
		if err := l.copySection(ctx, stream, b.sec); err != nil {
			return err
		}
	}
}

func (l *loader) copySection(ctx context.Context, stream *batchStream, sec *section) error {
	g, err := l.groupFor(ctx, sec)
	var bad *badSectionError
	if l.opts.SkipBadSections && errors.As(err, &bad) {
		l.addBad(bad.BadSection)
		for { // skip the section
			if _, more := stream.nextOf(sec); !more {
				return nil
			}
		}
	}
	if err != nil {
		return err
	}
	straight, err := l.canCopyStraight(ctx, g)
	if err != nil {
		return err
	}
	ok, err := l.copyText(ctx, stream, sec, g, straight)
	if err != nil || ok {
		return err
	}
	l.rereads = append(l.rereads, sec)
	for { // drop the rest of the section; it is read again into text staging
		if _, more := stream.nextOf(sec); !more {
			return nil
		}
	}
}

// copyStaged copies a section in binary form into its group's text staging
// table, from which castValues converts it, naming every value that does
// not convert.
func (l *loader) copyStaged(ctx context.Context, stream *batchStream, sec *section, g *group) error {
	if !g.hasStage {
		ddl := fmt.Sprintf("CREATE TEMP TABLE %s (_n bigint, _f int, _l int, _c int", g.stage())
		for i := range g.cols {
			ddl += ", " + col(i) + " text"
		}
		if _, err := l.tx.Exec(ctx, ddl+") ON COMMIT DROP"); err != nil {
			return fault.Failure(fmt.Errorf("userload: creating the staging table for %s: %w", g.obj.Table, err))
		}
		g.hasStage = true
	}
	src := &stageSource{stream: stream, sec: sec, grp: g}
	defer l.trace(time.Now(), "COPY (binary) "+g.stage())
	n, err := l.tx.CopyFrom(ctx, pgx.Identifier{g.stage()}, g.auxAndValueColumns(), src)
	if err != nil {
		return fault.Failure(fmt.Errorf("userload: %s: copying into staging: %w", sec.first.File, err))
	}
	g.textStaged += n
	g.counts.Records += n
	if g.stamps() {
		g.counts.Stamped += n
	}
	l.sum.Records += n
	l.nuls = append(l.nuls, src.nuls...)
	return nil
}

// canCopyStraight decides the fast path for a section: a load that only
// inserts, a key the database itself enforces (or no key), into an empty
// table or with -i. Tenant rules (tenant-required, the reference rule) are
// checked after the copy, over the whole table, so they need it empty.
// Check and detail runs always stage.
func (l *loader) canCopyStraight(ctx context.Context, g *group) (bool, error) {
	o := l.opts
	if g.shared || o.Check || o.Verbose || o.NewKeys || (o.Mode != Upsert && o.Mode != InsertOnly) {
		return false, nil
	}
	if g.key != nil && !g.keyUnique {
		return false, nil
	}
	noOwner := g.obj.Tenancy == schema.Required && !g.stamps()
	if noOwner && g.tenantIdx() < 0 {
		return false, nil // every record lacks its tenant: staging names them
	}
	tenantChecks := noOwner || len(l.refRules(g)) > 0
	if o.Mode == InsertOnly && !tenantChecks {
		return true, nil
	}
	var empty bool
	// SELECT 1: Citus cannot push down a subquery with no column.
	err := l.tx.QueryRow(ctx, fmt.Sprintf("SELECT NOT EXISTS (SELECT 1 FROM %s)", g.obj.Ident())).Scan(&empty)
	if err != nil {
		return false, fault.Failure(fmt.Errorf("userload: reading %s: %w", g.obj.Table, err))
	}
	return empty, nil
}

// copyText copies a section in COPY's text format inside a savepoint:
// straight into the target table (the fast path), or into the group's typed
// staging table, letting the server parse every value as psql's \copy
// would. It reports false when the database refused the data; the
// savepoint is then rolled back and nothing of the section remains.
func (l *loader) copyText(ctx context.Context, stream *batchStream, sec *section, g *group, straight bool) (bool, error) {
	src := &textCopySource{stream: stream, sec: sec, grp: g, aux: !straight}
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN", g.obj.Ident(), g.quotedColumns())
	if !straight {
		sql = fmt.Sprintf("COPY %s (%s) FROM STDIN", g.typed(), strings.Join(g.auxAndValueColumns(), ", "))
	}
	defer l.trace(time.Now(), sql)
	var tag pgconn.CommandTag
	err := sqlq.Savepoint(ctx, l.tx, func(sp pgx.Tx) error {
		var d *deferred
		if straight && !l.distributed(g) { // Citus: the shards keep their indexes
			var err error
			if d, err = l.deferConstraints(ctx, sp, g.obj); err != nil {
				return fmt.Errorf("userload: %s: %w", g.obj.Table, err)
			}
		}
		var err error
		tag, err = sp.Conn().PgConn().CopyFrom(ctx, src, sql)
		var pgErr *pgconn.PgError
		if err != nil {
			// Only the data's fault sends the section to staging, where each
			// refused record is named; a failure of the database fails the run.
			if !src.nul && !errors.Is(err, errNulInValue) && (!errors.As(err, &pgErr) || pgfault.Classify(err) != pgfault.Data) {
				return fmt.Errorf("userload: copying into %s: %w", g.obj.Table, err)
			}
			return errRefused
		}
		if straight {
			bad, err := l.straightViolations(ctx, g)
			if err != nil {
				return err
			}
			if !bad && d != nil {
				end := l.prog.Step("rebuilding the indexes and constraints of " + g.obj.Table)
				ok, err := d.rebuild(ctx, l, sp)
				end()
				if err != nil {
					return fmt.Errorf("userload: %s: %w", g.obj.Table, err)
				}
				bad = !ok
			}
			if bad {
				return errRefused
			}
		}
		return nil
	})
	if errors.Is(err, errRefused) {
		return false, nil
	}
	if err != nil {
		return false, fault.Failure(err)
	}
	n := tag.RowsAffected()
	g.counts.Records += n
	if g.stamps() {
		g.counts.Stamped += n
	}
	l.sum.Records += n
	if straight {
		g.fast += n
		g.counts.Inserted += n
		g.counts.FastPath = true
	} else {
		g.typedRows += n
	}
	return true, nil
}

// errRefused rolls back the savepoint of copyText: the database refused the
// section's data, which staging reads again.
var errRefused = errors.New("section refused")

// rereadRefused reads again, into staging, the sections the database
// refused on the fast path, so that every bad record is named.
func (l *loader) rereadRefused(ctx context.Context) error {
	sr := &sectionReader{files: l.opts.Files, opts: l.opts.File, schema: l.schema, stdinCopy: l.stdinCopy}
	sr.records = l.next
	for _, sec := range l.rereads {
		l.prog.Phasef("reading %s:%d again into staging", sec.first.File, sec.first.Line)
		ch := make(chan batch, queueDepth)
		eg, ectx := errgroup.WithContext(ctx)
		eg.Go(func() error {
			defer close(ch)
			return sr.readFile(ectx, sec.file, l.opts.Files[sec.file], sec.ordinal, func(b batch) error {
				select {
				case ch <- b:
					return nil
				case <-ectx.Done():
					return ectx.Err()
				}
			})
		})
		eg.Go(func() error {
			stream := &batchStream{ch: ch}
			b, ok := stream.next()
			if !ok {
				return nil
			}
			stream.peeked = &b
			g := l.bySig[sigOf(b.sec)]
			if err := l.copyStaged(ectx, stream, b.sec, g); err != nil {
				return err
			}
			for range ch { // the reader stops after the section
			}
			return nil
		})
		if err := eg.Wait(); err != nil {
			return err
		}
	}
	return nil
}

// groupFor finds or creates the group of a section, with its staging table.
func (l *loader) groupFor(ctx context.Context, sec *section) (*group, error) {
	if g := l.bySig[sigOf(sec)]; g != nil {
		return g, nil
	}
	where := fmt.Sprintf("%s:%d", sec.first.File, sec.first.Line)
	bad := func(problem string, err error) error {
		return fault.Usage(&badSectionError{BadSection{Pos: sec.first, Table: sec.table.Name, Problem: problem, Message: err.Error()}})
	}
	g := &group{id: len(l.groups) + 1, obj: sec.obj, cols: sec.cols, counts: l.sum.table(sec.obj.Table), shared: sec.table.Shared}
	g.setStamp(l.tenant)
	if k := l.newKeyColumn(g); k >= 0 { // labels: every record is inserted with a fresh key
		g.key, g.keyUnique = []int{k}, true
		if len(g.obj.PrimaryKey) > 1 { // the logical key id of a primary key (tenant, id)
			g.key, g.keyUnique = tenantScoped(g, g.key, false)
		}
	} else {
		// g.cols holds the tenant column of -t: a key (tenant, …) of a
		// database distributed by the tenant is among them.
		key, unique, err := chooseKey(sec.obj, g.cols, l.opts.Key, where)
		if err != nil {
			return nil, bad(KeyProblem, err)
		}
		g.key, g.keyUnique = tenantScoped(g, key, unique)
	}
	if kept := l.keptKeys(g); kept != nil {
		return nil, fault.Usagef("%s: table %q: Options.NewKeys: its key (%s) has no default (identity, sequence, gen_random_uuid() …), so the file's keys would be kept; give the key a default, or load this table without Options.NewKeys",
			where, sec.obj.Table, strings.Join(kept, ", "))
	}
	if g.shared {
		if err := l.checkSharedSection(g, where); err != nil {
			return nil, err
		}
	}
	if g.key == nil && (l.opts.Mode == UpdateOnly || l.opts.Mode == Delete) {
		return nil, bad(KeyProblem, fmt.Errorf("%s: table %q: no match key among the file's columns (give Options.Key, or include the primary key); %s needs one",
			where, sec.obj.Table, l.opts.Mode))
	}
	if n := len(g.cols); n+auxColumns > maxTableColumns {
		return nil, bad(TooManyColumns, fmt.Errorf("%s: table %q: %d columns to load, but userload stages each record with %d columns of its own in a table, "+
			"and PostgreSQL allows %d columns a table: load at most %d columns at once (split the columns over two sections that both hold the match key)",
			where, sec.obj.Table, n, auxColumns, maxTableColumns, maxTableColumns-auxColumns))
	}
	l.groups = append(l.groups, g)
	l.bySig[sigOf(sec)] = g
	ddl := fmt.Sprintf("CREATE TEMP TABLE %s (_n bigint, _f int, _l int, _c int", g.typed())
	for i, c := range g.cols {
		ddl += fmt.Sprintf(", %s %s", col(i), castType(c))
	}
	if _, err := l.tx.Exec(ctx, ddl+") ON COMMIT DROP"); err != nil {
		return nil, fault.Failure(fmt.Errorf("userload: creating the staging table for %s: %w", g.obj.Table, err))
	}
	return g, nil
}

func sigOf(sec *section) string {
	return (&group{obj: sec.obj, cols: sec.cols, shared: sec.table.Shared}).signature()
}
