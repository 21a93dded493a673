// Package exit maps errors to tenantkit's process exit codes:
//
//	0 done
//	1 ran, but found violations or rejects
//	2 bad usage, bad input or bad configuration (nothing changed)
//	3 database or internal failure (nothing changed)
//
// Code that knows which class an error belongs to wraps it with Usage,
// Violations or Failure; errors that were not classified count as failures.
package exit

import (
	"errors"
	"fmt"
)

// The exit codes.
const (
	OK         = 0
	Violation  = 1
	BadInput   = 2
	Failed     = 3
	Interrupt  = 130
	Terminated = 143
)

// Error carries an exit code with the error that causes it.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Usage classifies err as bad usage or bad input (exit 2).
func Usage(err error) error { return wrap(BadInput, err) }

// Usagef formats a bad-usage error (exit 2).
func Usagef(format string, args ...any) error {
	return Usage(fmt.Errorf(format, args...))
}

// Violations classifies err as a run that found violations or rejects (exit 1).
func Violations(err error) error { return wrap(Violation, err) }

// Failure classifies err as a database or internal failure (exit 3).
func Failure(err error) error { return wrap(Failed, err) }

func wrap(code int, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err // the innermost classification wins
	}
	return &Error{Code: code, Err: err}
}

// Code returns the exit code for err: 0 for nil, the classified code, or 3.
func Code(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Failed
}

// CommittedError is an error of a run that committed part of its work
// before it stopped (settenant --commit-each-rule): What says what was
// committed, so that no message claims that nothing was changed.
type CommittedError struct {
	Err  error
	What string
}

func (e *CommittedError) Error() string { return e.Err.Error() + "; " + e.What }
func (e *CommittedError) Unwrap() error { return e.Err }

// Committed wraps err with what the run committed before it.
func Committed(err error, what string) error {
	if err == nil {
		return nil
	}
	return &CommittedError{Err: err, What: what}
}
