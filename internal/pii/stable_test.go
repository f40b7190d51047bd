package pii

import (
	"context"
	"errors"
	"testing"

	"github.com/reftrack/reftrack/schemas"
)

// TestSealStable: a contact sealed twice under one data key is the same
// string, so a partner's resend of an event stays byte-identical (dedupe
// fingerprints the payload); another value, field, lead or key seals
// differently; the result opens with Open like any seal and is still
// bound to its field and lead.
func TestSealStable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ring, _ := newRing(t, "dev", 1)
	c := &Cipher{Ring: ring, Store: &MemoryStore{}}
	keys, err := c.KeysFor(ctx, []Subject{alice, bob})
	if err != nil {
		t.Fatal(err)
	}
	a, b := keys[0], keys[1]
	seal := func(k *DataKey, field, value string) string {
		t.Helper()
		s, err := k.SealStable(field, value)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := seal(a, FieldEmail, "zoe@example.com")
	if again := seal(a, FieldEmail, "zoe@example.com"); again != first {
		t.Errorf("the same value sealed twice: %s, then %s", first, again)
	}
	for name, other := range map[string]string{
		"another value": seal(a, FieldEmail, "zoe@example.org"),
		"another field": seal(a, FieldName, "zoe@example.com"),
		"another lead":  seal(b, FieldEmail, "zoe@example.com"),
	} {
		if other == first {
			t.Errorf("%s seals to the same string %s", name, first)
		}
	}
	if v, err := a.Open(FieldEmail, first); err != nil || v != "zoe@example.com" {
		t.Errorf("Open = %q, %v", v, err)
	}
	if _, err := a.Open(FieldName, first); !errors.Is(err, ErrTampered) {
		t.Errorf("opened as another field: %v", err)
	}
	// SealContact is stable too: the whole contact of a resend is equal.
	c1 := schemas.Contact{Name: "Zoë", Email: "zoe@example.com", Phone: "+14155550123"}
	c2 := c1
	if err := errors.Join(SealContact(a, &c1), SealContact(a, &c2)); err != nil {
		t.Fatal(err)
	}
	if c1 != c2 {
		t.Errorf("one contact sealed twice differs: %+v, %+v", c1, c2)
	}
	// A new key for the lead (after an erasure) seals differently: the
	// old ciphertexts stay unreadable.
	if _, err := c.Store.Delete(ctx, alice.Key()); err != nil {
		t.Fatal(err)
	}
	fresh, err := c.KeysFor(ctx, []Subject{alice})
	if err != nil {
		t.Fatal(err)
	}
	if seal(fresh[0], FieldEmail, "zoe@example.com") == first {
		t.Error("a new data key seals like the erased one")
	}
}
