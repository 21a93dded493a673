package crashtest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// When says when to kill a run: after a delay, or as soon as one of the
// run's server processes is running a statement matching Phase (whichever
// comes first when both are set).
type When struct {
	After time.Duration
	Phase *regexp.Regexp
}

// String describes the moment, e.g. "after 1.2s" or "at /^COPY/".
func (w When) String() string {
	var parts []string
	if w.Phase != nil {
		parts = append(parts, "at /"+w.Phase.String()+"/")
	}
	if w.After > 0 || w.Phase == nil {
		parts = append(parts, "after "+w.After.Round(time.Millisecond).String())
	}
	return strings.Join(parts, " or ")
}

// Kill is what happened to one killed run.
type Kill struct {
	When When
	// At is how long the process had run when it was killed.
	At time.Duration
	// Doing is what the run's server processes were doing at the kill:
	// "STATE: QUERY" for each, or "not connected".
	Doing []string
	// Finished is true when the run ended by itself before the kill; Code is
	// then its exit code.
	Finished bool
	Code     int
}

// String is a one-line account of the kill.
func (k Kill) String() string {
	if k.Finished {
		return fmt.Sprintf("%s: finished by itself after %s with exit %d", k.When, k.At.Round(time.Millisecond), k.Code)
	}
	return fmt.Sprintf("%s: killed after %s while %s", k.When, k.At.Round(time.Millisecond), strings.Join(k.Doing, " | "))
}

// Monitor watches a database's server processes of one application.
type Monitor struct {
	Q        Querier // a connection to the maintenance or any database of the server
	Database string  // the database the runs write to
	App      string  // their application_name, e.g. "tenantkit userload"
}

const activitySQL = `
SELECT coalesce(state, ''), coalesce(wait_event_type, ''), regexp_replace(left(query, 160), '\s+', ' ', 'g')
FROM pg_stat_activity
WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()
ORDER BY state = 'active' DESC, pid`

// Activity lists what the application's server processes are doing.
func (m Monitor) Activity(ctx context.Context) ([]string, error) {
	rows, err := m.Q.Query(ctx, activitySQL, m.Database, m.App)
	if err != nil {
		return nil, fmt.Errorf("crashtest: reading pg_stat_activity: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var state, wait, query string
		if err := rows.Scan(&state, &wait, &query); err != nil {
			return nil, err
		}
		if wait == "Lock" {
			state += " (waiting for a lock)"
		}
		out = append(out, state+": "+query)
	}
	return out, rows.Err()
}

// activeMatch reports whether an active statement of the activity matches re.
func activeMatch(activity []string, re *regexp.Regexp) bool {
	for _, a := range activity {
		if q, ok := strings.CutPrefix(a, "active: "); ok && re.MatchString(q) {
			return true
		}
	}
	return false
}

// pollEvery is how often a run's activity is looked at while waiting for
// a phase.
const pollEvery = 5 * time.Millisecond

// Run starts cmd and kills it with SIGKILL at the moment w. It returns once
// the process is gone (not its server processes: see WaitGone).
func (m Monitor) Run(ctx context.Context, cmd *exec.Cmd, w When) (Kill, error) {
	k := Kill{When: w}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return k, fmt.Errorf("crashtest: starting %s: %w", cmd.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	finished := func(err error) (Kill, error) {
		k.At = time.Since(start)
		k.Finished = true
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			k.Code = ee.ExitCode()
		default:
			return k, fmt.Errorf("crashtest: running %s: %w", cmd.Path, err)
		}
		return k, nil
	}
	var deadline <-chan time.Time
	if w.After > 0 || w.Phase == nil {
		timer := time.NewTimer(w.After)
		defer timer.Stop()
		deadline = timer.C
	}
	var tick <-chan time.Time
	if w.Phase != nil {
		ticker := time.NewTicker(pollEvery)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case err := <-done:
			return finished(err)
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-done
			return k, ctx.Err()
		case <-tick:
			act, err := m.Activity(ctx)
			if err != nil {
				_ = cmd.Process.Kill()
				<-done
				return k, err
			}
			if !activeMatch(act, w.Phase) {
				continue
			}
			k.Doing = act
		case <-deadline:
			act, err := m.Activity(ctx)
			if err != nil {
				_ = cmd.Process.Kill()
				<-done
				return k, err
			}
			k.Doing = act
		}
		// Kill now, unless the run just ended by itself.
		select {
		case err := <-done:
			return finished(err)
		default:
		}
		k.At = time.Since(start)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			return finished(<-done)
		}
		<-done
		if len(k.Doing) == 0 {
			k.Doing = []string{"not connected"}
		}
		return k, nil
	}
}

// WaitGone waits until the application's server processes have ended: after
// SIGKILL a server process finishes its running statement before it
// notices the lost connection and rolls back.
func (m Monitor) WaitGone(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var n int
		if err := m.Q.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
			m.Database, m.App).Scan(&n); err != nil {
			return fmt.Errorf("crashtest: reading pg_stat_activity: %w", err)
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("crashtest: %d server processes of %q still run in %s after %s", n, m.App, m.Database, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
