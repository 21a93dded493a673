// Package pgfault tells the errors a statement's data causes from the
// failures of the database itself. Only the first may become a userload
// reject; the others fail the run at once, whatever the data.
package pgfault

import (
	"errors"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// Class is what an error of a change statement means for the run.
type Class int

const (
	// Failure is a failure of the database, the session or the server
	// (disk full, lock or statement timeout, lost connection, shutdown,
	// missing privilege, …): the run fails at once and commits nothing.
	Failure Class = iota
	// Data is the data's fault (a value, a constraint, a trigger's RAISE):
	// retried record by record, each refused record becomes a reject.
	Data
	// Transient is a deadlock or a serialization failure: the whole
	// statement may run again, a bounded number of times.
	Transient
)

func (c Class) String() string {
	switch c {
	case Data:
		return "data"
	case Transient:
		return "transient"
	}
	return "failure"
}

// dataCodes are the SQLSTATEs outside classes 22 and 23 that the data of a
// statement causes.
var dataCodes = map[string]bool{
	pgerrcode.CardinalityViolation:         true, // ON CONFLICT affecting a row twice: keys repeated in the data
	pgerrcode.DatatypeMismatch:             true, // 42804: a value of the wrong type
	pgerrcode.CannotCoerce:                 true, // 42846
	pgerrcode.RaiseException:               true, // P0001: a trigger's RAISE EXCEPTION
	pgerrcode.TriggeredActionException:     true, // 09000
	pgerrcode.TriggeredDataChangeViolation: true, // 27000
	pgerrcode.RestrictViolation:            true, // 23001 (class 23, listed for clarity)
	pgerrcode.CheckViolation:               true, // 23514
	pgerrcode.AssertFailure:                true, // P0004: a trigger's ASSERT
}

// Classify says what err, returned by a statement, means. Errors that are
// not server errors (a broken connection, a cancelled context) are failures.
func Classify(err error) Class {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return Failure
	}
	return ClassifyCode(pe.Code)
}

// ClassifyCode classifies a SQLSTATE.
func ClassifyCode(code string) Class {
	switch {
	case code == pgerrcode.DeadlockDetected || code == pgerrcode.SerializationFailure:
		return Transient
	case pgerrcode.IsDataException(code), pgerrcode.IsIntegrityConstraintViolation(code), dataCodes[code]:
		return Data
	}
	return Failure
}
