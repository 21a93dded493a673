package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// writerSpec is the concurrent writer of a scenario: while each contender
// runs, one connection of the harness loops over small write transactions
// (BEGIN, SQL, COMMIT) and records each one's latency, so that the lock
// waits a contender causes to the application show.
type writerSpec struct {
	// Text describes the transaction for RESULTS.md.
	Text string
	SQL  string
	// Args are the SQL's parameters for one transaction; the statement
	// must change exactly one row.
	Args func(rnd *rand.Rand, scale int64) []any
}

// WriterRound is what the concurrent writer saw during one run.
type WriterRound struct {
	// Transactions is how many it committed while the contender ran.
	Transactions int     `json:"transactions"`
	P99MS        float64 `json:"p99_ms"`
	MaxMS        float64 `json:"max_ms"`
}

// writerStats summarizes the latencies of one run's transactions: the
// 99th percentile (nearest rank) and the largest.
func writerStats(lat []time.Duration) WriterRound {
	if len(lat) == 0 {
		return WriterRound{}
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	rank := int(math.Ceil(0.99*float64(len(s)))) - 1
	return WriterRound{Transactions: len(s), P99MS: ms(s[rank]), MaxMS: ms(s[len(s)-1])}
}

// summarizeWriter is a contender's writer over its rounds: the median
// transactions and p99, the largest max.
func summarizeWriter(rounds []WriterRound) *WriterRound {
	if len(rounds) == 0 {
		return nil
	}
	var tx, p99 []float64
	out := &WriterRound{}
	for _, r := range rounds {
		tx = append(tx, float64(r.Transactions))
		p99 = append(p99, r.P99MS)
		out.MaxMS = max(out.MaxMS, r.MaxMS)
	}
	out.Transactions = int(math.Round(median(tx)))
	out.P99MS = median(p99)
	return out
}

// writer is a running concurrent writer.
type writer struct {
	stop   chan struct{}
	done   chan error
	lat    []time.Duration // written by the writer's goroutine until done
	result *WriterRound
	err    error
}

// startWriter connects to db and runs one transaction of spec, so that the
// connection is ready when the contender starts, then goes on in the
// background until finish.
func (h *harness) startWriter(ctx context.Context, db string, spec *writerSpec, scale int64) (*writer, error) {
	conn, err := h.connect(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("concurrent writer: %w", err)
	}
	rnd := rand.New(rand.NewPCG(uint64(h.cfg.Seed), uint64(h.runs)))
	one := func() error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.Background())
		tag, err := tx.Exec(ctx, spec.SQL, spec.Args(rnd, scale)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("%s changed %d rows, want 1", firstLine(spec.SQL), tag.RowsAffected())
		}
		return tx.Commit(ctx)
	}
	if err := one(); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("concurrent writer: %w", err)
	}
	w := &writer{stop: make(chan struct{}), done: make(chan error, 1)}
	go w.loop(conn, one)
	return w, nil
}

func (w *writer) loop(conn *pgx.Conn, one func() error) {
	defer conn.Close(context.Background())
	for {
		select {
		case <-w.stop:
			w.done <- nil
			return
		default:
		}
		start := time.Now()
		if err := one(); err != nil {
			w.done <- fmt.Errorf("concurrent writer: %w", err)
			return
		}
		w.lat = append(w.lat, time.Since(start))
	}
}

// finish stops the writer once its transaction under way has committed
// and returns what it saw; calling it again returns the same.
func (w *writer) finish() (WriterRound, error) {
	if w.result == nil {
		close(w.stop)
		w.err = <-w.done
		w.result = ptr(writerStats(w.lat))
	}
	return *w.result, w.err
}
