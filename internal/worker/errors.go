package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/reftrack/reftrack/schemas"
)

// RejectError says a record is wrong in itself: retrying cannot fix it, so
// the runtime sends it to the dead-letter topic with these reasons.
type RejectError struct {
	Reasons []schemas.Reason
}

func (e *RejectError) Error() string {
	parts := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		parts[i] = fmt.Sprintf("%s at %q: %s", r.Code, r.Pointer, r.Message)
	}
	return "rejected: " + strings.Join(parts, "; ")
}

// Reject builds a RejectError with one reason.
func Reject(code, pointer, format string, args ...any) error {
	return &RejectError{Reasons: []schemas.Reason{{Code: code, Pointer: pointer, Message: fmt.Sprintf(format, args...)}}}
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not retryable: the record goes to the dead-letter
// topic with code "permanent" instead of aborting the batch.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked Permanent or is a RejectError.
func IsPermanent(err error) bool {
	var p permanentError
	var r *RejectError
	return errors.As(err, &p) || errors.As(err, &r)
}

// reasons turns any permanent error into dead-letter reasons.
func reasons(err error) []schemas.Reason {
	var r *RejectError
	if errors.As(err, &r) && len(r.Reasons) > 0 {
		return r.Reasons
	}
	return []schemas.Reason{{Code: "permanent", Pointer: "", Message: err.Error()}}
}

// Original is what a dead letter keeps of the record it stands for, in
// place of the record's own key and bytes.
type Original struct {
	Key   []byte
	Value []byte
	// Withheld keeps none of the bytes, only the size and SHA-256 of the
	// record's: for a record whose personal data cannot be found to be
	// protected (not JSON, no subject to seal it for).
	Withheld bool
}

// OriginalKeeper is implemented by a Processor whose inputs carry personal
// data that its dead letters must not copy as it came (ingest, in front of
// which the partners' records are still clear): the runtime asks it, once
// per batch, what to keep of the records it dead-letters. An error aborts
// the batch for a retry: a dead letter never falls back to the clear
// original.
type OriginalKeeper interface {
	DeadLetterOriginals(ctx context.Context, msgs []Message) ([]Original, error)
}
