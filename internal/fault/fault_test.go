package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestPosError(t *testing.T) {
	for _, tc := range []struct {
		err  *PosError
		want string
	}{
		{At("a.dat", 3, 7, "bad value %q", "x"), `a.dat:3:7: bad value "x"`},
		{At("c.xml", 12, 0, "malformed XML: %s", "no root element"), "c.xml:12: malformed XML: no root element"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	inner := errors.New("inner")
	err := fmt.Errorf("loading: %w", &PosError{File: "f", Line: 1, Column: 2, Err: inner})
	var pe *PosError
	if !errors.As(err, &pe) || pe.Line != 1 || pe.Column != 2 || !errors.Is(err, inner) {
		t.Errorf("errors.As/Is through %v: %+v", err, pe)
	}
}

func TestKinds(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind Kind
	}{
		{errors.New("x"), ErrFailure},
		{Usagef("x"), ErrUsage},
		{NotFoundf("no tenant %q", "a"), ErrNotFound},
		{Rejects(errors.New("x")), ErrRejected},
		{Violations(errors.New("x")), ErrViolation},
		{At("f", 1, 1, "x"), ErrUsage},
		{Failure(At("f", 1, 1, "x")), ErrFailure},
		{Usage(fmt.Errorf("outer: %w", Violations(errors.New("x")))), ErrViolation}, // the innermost wins
		{Committed(Usagef("x"), "rule 1 was committed"), ErrUsage},
	} {
		if got := KindOf(tc.err); got != tc.kind {
			t.Errorf("KindOf(%v) = %v, want %v", tc.err, got, tc.kind)
		}
		if k, ok := tc.err.(*Error); ok && !errors.Is(tc.err, k.Kind) {
			t.Errorf("errors.Is(%v, %v) is false", tc.err, k.Kind)
		}
	}
	if errors.Is(Usagef("x"), ErrNotFound) {
		t.Error("a usage error Is ErrNotFound")
	}
	if Usage(nil) != nil || Committed(nil, "x") != nil {
		t.Error("classifying nil is not nil")
	}
	if got := Committed(errors.New("rule 2 failed"), "rule 1 stays committed").Error(); got != "rule 2 failed; rule 1 stays committed" {
		t.Errorf("CommittedError = %q", got)
	}
}
