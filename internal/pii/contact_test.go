package pii

import (
	"context"
	"errors"
	"testing"

	"github.com/reftrack/reftrack/schemas"
)

// TestSealContact: the helper wave 2's ingest calls seals every present
// field of a lead's contact in place, leaves absent ones absent, refuses a
// partner's value that already looks sealed, and opens back to the clear
// contact (or ErrErased once the lead is erased).
func TestSealContact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ring, _ := newRing(t, "dev", 1)
	store := &MemoryStore{}
	c := &Cipher{Ring: ring, Store: store}
	keys, err := c.KeysFor(ctx, []Subject{alice, alice})
	if err != nil {
		t.Fatal(err)
	}
	if keys[0].ID() != keys[1].ID() {
		t.Fatalf("one batch made two keys for one lead: %s, %s", keys[0].ID(), keys[1].ID())
	}
	tests := []struct {
		name    string
		in      schemas.Contact
		wantErr bool
	}{
		{"all fields", schemas.Contact{Name: "Zoë", Email: "zoe@example.com", Phone: "+14155550123"}, false},
		{"email only", schemas.Contact{Email: "zoe@example.com"}, false},
		{"empty", schemas.Contact{}, false},
		{"partner sends a sealed-looking value", schemas.Contact{Email: "enc:v1:A256GCM:0123456789abcdef:AAAA"}, true},
	}
	for _, tt := range tests {
		sealed := tt.in
		err := SealContact(keys[0], &sealed)
		if tt.wantErr {
			if !errors.Is(err, ErrSealedInput) {
				t.Errorf("%s: err %v, want %v", tt.name, err, ErrSealedInput)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for _, f := range []struct{ clear, sealed string }{{tt.in.Name, sealed.Name}, {tt.in.Email, sealed.Email}, {tt.in.Phone, sealed.Phone}} {
			if (f.clear == "") != (f.sealed == "") || (f.sealed != "" && !IsCiphertext(f.sealed)) {
				t.Errorf("%s: %q sealed as %q", tt.name, f.clear, f.sealed)
			}
		}
		if !ContactSealed(sealed) {
			t.Errorf("%s: ContactSealed(%+v) is false", tt.name, sealed)
		}
		opened, err := OpenContact(keys[0], sealed)
		if err != nil || opened != tt.in {
			t.Errorf("%s: OpenContact = %+v, %v; want %+v", tt.name, opened, err, tt.in)
		}
	}
	if ContactSealed(schemas.Contact{Name: "Zoë", Email: "enc:v1:x"}) {
		t.Error("a contact with a clear name counts as sealed")
	}
	sealed := schemas.Contact{Email: "zoe@example.com"}
	if err := SealContact(keys[0], &sealed); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Delete(ctx, alice.Key()); err != nil {
		t.Fatal(err)
	}
	fresh, err := c.KeysFor(ctx, []Subject{alice})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenContact(fresh[0], sealed); !errors.Is(err, ErrErased) || got != (schemas.Contact{}) {
		t.Errorf("after erasure: %+v, %v", got, err)
	}
}
