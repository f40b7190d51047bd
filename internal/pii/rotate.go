package pii

import (
	"context"
	"fmt"

	"github.com/reftrack/reftrack/schemas"
)

// RewrapReport counts what Rewrap did.
type RewrapReport struct {
	Current   uint32 // the KEK version every key is wrapped under now
	Scanned   int    // stored keys seen
	Rewrapped int    // moved to Current
	UpToDate  int    // already under Current
	Raced     int    // changed or erased while being re-wrapped: left as they are
}

// Rewrap re-wraps every stored data key that is not under the keyring's
// current KEK version. Ciphertexts are untouched (a data key keeps its id
// and bytes). Each key is replaced only while it still holds what was
// read, so a key erased meanwhile stays erased. Safe to run while the
// pipeline runs and to run again; once it reports nothing left under an
// old version, that version may be retired from the keyring.
func Rewrap(ctx context.Context, ring Keyring, store DataKeyStore) (RewrapReport, error) {
	cur, err := ring.Current(ctx)
	if err != nil {
		return RewrapReport{}, fmt.Errorf("current KEK version: %w", err)
	}
	rep := RewrapReport{Current: cur}
	err = store.Scan(ctx, func(subject, stored string) error {
		rep.Scanned++
		w, err := parseWrapped(stored)
		if err != nil {
			return fmt.Errorf("data key of %s: %w", subject, err)
		}
		if w.KEKVersion == cur && w.Ring == ring.ID() {
			rep.UpToDate++
			return nil
		}
		next, err := rewrapOne(ctx, ring, subject, w)
		if err != nil {
			return err
		}
		swapped, err := store.Swap(ctx, subject, stored, next)
		if err != nil {
			return err
		}
		if swapped {
			rep.Rewrapped++
		} else {
			rep.Raced++
		}
		return nil
	})
	return rep, err
}

// rewrapOne unwraps a stored key and wraps the same bytes, same id, under
// the current version.
func rewrapOne(ctx context.Context, ring Keyring, subject string, w wrappedKey) (string, error) {
	partner, lead, ok := schemas.SplitScoped(subject)
	if !ok {
		return "", fmt.Errorf("data key %q: not a partner|lead subject", subject)
	}
	s := Subject{Partner: partner, Lead: lead}
	if w.Ring != ring.ID() {
		return "", fmt.Errorf("data key of %s is wrapped by keyring %q, not %q: %w", subject, w.Ring, ring.ID(), ErrUnwrap)
	}
	raw, err := ring.Unwrap(ctx, w.KEKVersion, w.Blob, wrapAAD(w.Ring, w.ID, s))
	if err != nil {
		return "", fmt.Errorf("re-wrap the data key of %s: %w", subject, err)
	}
	v, blob, err := ring.Wrap(ctx, raw, wrapAAD(w.Ring, w.ID, s))
	if err != nil {
		return "", fmt.Errorf("re-wrap the data key of %s: %w", subject, err)
	}
	return wrappedKey{Ring: w.Ring, KEKVersion: v, ID: w.ID, Blob: blob}.String(), nil
}

// KeyVersions counts the stored data keys per KEK version, so an operator
// sees when an old version holds nothing any more.
func KeyVersions(ctx context.Context, store DataKeyStore) (map[uint32]int, error) {
	counts := map[uint32]int{}
	err := store.Scan(ctx, func(subject, stored string) error {
		w, err := parseWrapped(stored)
		if err != nil {
			return fmt.Errorf("data key of %s: %w", subject, err)
		}
		counts[w.KEKVersion]++
		return nil
	})
	return counts, err
}
