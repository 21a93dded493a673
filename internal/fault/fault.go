// Package fault holds the kinds of tenantkit's errors and its one
// positioned error type. Libraries classify the errors they return with
// it; only cmd/tenantkit turns a kind into a process exit code.
//
// A library that knows which class an error belongs to wraps it with
// Usage, NotFound, Rejects, Violations or Failure; the innermost
// classification wins, and an error nobody classified is a Failure. A
// *PosError (malformed input at a position) that nobody classified is bad
// usage or input.
//
// Messages of libraries name a caller's setting by what it is, an Option
// ("Options.Files"), never by a command-line flag: the command line words
// it as its flag.
package fault

import (
	"errors"
	"fmt"
)

// Kind is the class of an error. A Kind is itself an error, so that
// errors.Is(err, fault.ErrUsage) tests the class of err.
type Kind int

// The kinds.
const (
	// ErrFailure is a database or internal failure; nothing was changed
	// unless a *CommittedError says what was. Unclassified errors are
	// failures.
	ErrFailure Kind = iota
	// ErrUsage is bad usage, bad input or bad configuration; nothing was
	// changed.
	ErrUsage
	// ErrNotFound is bad input naming something (a tenant, a table, a
	// database) that does not exist; nothing was changed.
	ErrNotFound
	// ErrRejected is a run that rejected records of its input.
	ErrRejected
	// ErrViolation is a run that found violations (checks that failed,
	// conflicts, refusals).
	ErrViolation
)

// Kinds lists every kind, in the order of their values.
var Kinds = []Kind{ErrFailure, ErrUsage, ErrNotFound, ErrRejected, ErrViolation}

func (k Kind) Error() string {
	switch k {
	case ErrUsage:
		return "bad usage or input"
	case ErrNotFound:
		return "not found"
	case ErrRejected:
		return "records rejected"
	case ErrViolation:
		return "violations found"
	}
	return "failure"
}

// Error is an error classified as a Kind.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// Classify wraps err as kind k, unless err is nil or already classified
// (the innermost classification wins).
func Classify(k Kind, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Kind: k, Err: err}
}

// KindOf returns the class of a non-nil err: its classification, ErrUsage
// for an unclassified *PosError, else ErrFailure.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var pe *PosError
	if errors.As(err, &pe) {
		return ErrUsage
	}
	return ErrFailure
}

// Usage classifies err as bad usage or bad input.
func Usage(err error) error { return Classify(ErrUsage, err) }

// Usagef formats a bad-usage error.
func Usagef(format string, args ...any) error { return Usage(fmt.Errorf(format, args...)) }

// NotFound classifies err as naming something that does not exist.
func NotFound(err error) error { return Classify(ErrNotFound, err) }

// NotFoundf formats a not-found error.
func NotFoundf(format string, args ...any) error { return NotFound(fmt.Errorf(format, args...)) }

// Rejects classifies err as a run that rejected records.
func Rejects(err error) error { return Classify(ErrRejected, err) }

// Violations classifies err as a run that found violations.
func Violations(err error) error { return Classify(ErrViolation, err) }

// Failure classifies err as a database or internal failure.
func Failure(err error) error { return Classify(ErrFailure, err) }

// PosError reports a problem at a position of an input file, in the style
// of encoding/csv's ParseError. Its text is "FILE:LINE:COLUMN: message",
// or "FILE:LINE: message" when the column is unknown (0).
type PosError struct {
	File   string
	Line   int // 1-based
	Column int // 1-based; 0: unknown
	Err    error
}

func (e *PosError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *PosError) Unwrap() error { return e.Err }

// At formats a *PosError at FILE:LINE:COLUMN (column 0: unknown).
func At(file string, line, column int, format string, args ...any) *PosError {
	return &PosError{File: file, Line: line, Column: column, Err: fmt.Errorf(format, args...)}
}

// CommittedError is an error of a run that committed part of its work
// before it stopped (settenant's CommitEachRule): What says what was
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

// Option is the wording by which a library's message names a setting of
// its caller: the Options field ("Options.Files", "TenantOptions.WithPublic"),
// qualified by its package where the message names another package's
// setting ("load.Options.Check"). Messages never name a command-line flag;
// cmd/tenantkit keeps the one table from these wordings to its flags.
type Option string

func (o Option) String() string { return string(o) }
