package pii

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// newRing returns a keyring with versions 1..n, current n, and its JSON.
func newRing(t testing.TB, id string, n int) (*LocalKeyring, []byte) {
	t.Helper()
	b, err := NewKeyringFile(id)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		if b, err = AddKEK(b, true); err != nil {
			t.Fatal(err)
		}
	}
	k, err := ParseKeyring(b)
	if err != nil {
		t.Fatal(err)
	}
	return k, b
}

var (
	alice = Subject{Partner: "acme", Lead: "L-1"}
	bob   = Subject{Partner: "acme", Lead: "L-2"}
	// Same lead id at another partner: a different subject.
	aliceElsewhere = Subject{Partner: "globex", Lead: "L-1"}
)

// TestRoundTrip: every field value comes back as it was sealed, and the
// sealed form is self-describing and never holds the clear value.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ring, _ := newRing(t, "dev", 1)
	c := &Cipher{Ring: ring, Store: &MemoryStore{}}
	ctx := context.Background()
	tests := []struct{ field, value string }{
		{FieldName, "Zoë Ångström-O'Brien"},
		{FieldEmail, "zoe@example.com"},
		{FieldPhone, "+14155550123"},
		{FieldName, ""},
		{FieldName, strings.Repeat("x", 4096)},
	}
	for _, tt := range tests {
		sealed, err := c.Encrypt(ctx, alice, tt.field, tt.value)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, Prefix+AlgAES256GCM+":") || (tt.value != "" && strings.Contains(sealed, tt.value)) {
			t.Errorf("sealed %q as %q", tt.value, sealed)
		}
		got, err := c.Decrypt(ctx, alice, tt.field, sealed)
		if err != nil || got != tt.value {
			t.Errorf("Decrypt(%q) = %q, %v; want %q", sealed, got, err, tt.value)
		}
		again, _ := c.Encrypt(ctx, alice, tt.field, tt.value)
		if again == sealed {
			t.Errorf("two seals of %q are equal: the nonce repeated", tt.value)
		}
	}
}

// TestKeysForOneKeyPerSubject: a batch creates each missing subject's key
// once, keeps an existing one, and two subjects never share a key.
func TestKeysForOneKeyPerSubject(t *testing.T) {
	t.Parallel()
	ring, _ := newRing(t, "dev", 1)
	c := &Cipher{Ring: ring, Store: &MemoryStore{}}
	ctx := context.Background()
	first, err := c.KeysFor(ctx, []Subject{alice})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := c.KeysFor(ctx, []Subject{alice, bob, alice, aliceElsewhere})
	if err != nil {
		t.Fatal(err)
	}
	if keys[0].ID() != first[0].ID() || keys[2].ID() != first[0].ID() {
		t.Errorf("alice's key changed: %s, %s, want %s", keys[0].ID(), keys[2].ID(), first[0].ID())
	}
	if keys[1].ID() == keys[0].ID() || keys[3].ID() == keys[0].ID() {
		t.Errorf("subjects share a key: %s %s %s", keys[0].ID(), keys[1].ID(), keys[3].ID())
	}
	if _, err := c.KeysFor(ctx, []Subject{{Partner: "a|b", Lead: "L"}}); err == nil {
		t.Error("a partner with | was accepted")
	}
}

// TestTamper: a ciphertext altered anywhere, or moved to another field,
// lead or partner, never opens to a clear value.
func TestTamper(t *testing.T) {
	t.Parallel()
	ring, _ := newRing(t, "dev", 1)
	c := &Cipher{Ring: ring, Store: &MemoryStore{}}
	ctx := context.Background()
	keys, err := c.KeysFor(ctx, []Subject{alice, bob, aliceElsewhere})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := keys[0].Seal(FieldEmail, "zoe@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := ParseCiphertext(sealed)
	flipped := func(i int) string {
		b := append([]byte(nil), ct.Blob...)
		b[i] ^= 0x01
		return Ciphertext{Alg: ct.Alg, KeyID: ct.KeyID, Blob: b}.String()
	}
	// The same key bytes under another subject: only the associated data
	// tells them apart, so these prove the binding itself.
	asSubject := func(s Subject) *DataKey { k := *keys[0]; k.subject = s; return &k }
	tests := []struct {
		name    string
		key     *DataKey
		field   string
		value   string
		wantErr error
	}{
		{"nonce byte flipped", keys[0], FieldEmail, flipped(0), ErrTampered},
		{"ciphertext byte flipped", keys[0], FieldEmail, flipped(gcmNonceSize), ErrTampered},
		{"tag byte flipped", keys[0], FieldEmail, flipped(len(ct.Blob) - 1), ErrTampered},
		{"tag cut short", keys[0], FieldEmail, Ciphertext{Alg: ct.Alg, KeyID: ct.KeyID, Blob: ct.Blob[:len(ct.Blob)-1]}.String(), ErrTampered},
		{"other field", keys[0], FieldName, sealed, ErrTampered},
		{"other lead, same key bytes", asSubject(bob), FieldEmail, sealed, ErrTampered},
		{"other partner, same key bytes", asSubject(aliceElsewhere), FieldEmail, sealed, ErrTampered},
		{"other lead's key", keys[1], FieldEmail, sealed, ErrErased},
		{"other partner's key", keys[2], FieldEmail, sealed, ErrErased},
		{"algorithm renamed", keys[0], FieldEmail, strings.Replace(sealed, AlgAES256GCM, "A128GCM", 1), ErrMalformed},
		{"key id changed", keys[0], FieldEmail, strings.Replace(sealed, ct.KeyID, "00000000000000ff", 1), ErrErased},
		{"clear value", keys[0], FieldEmail, "zoe@example.com", ErrMalformed},
		{"padded base64", keys[0], FieldEmail, sealed + "=", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.key.Open(tt.field, tt.value)
			if !errors.Is(err, tt.wantErr) || got != "" {
				t.Errorf("Open = %q, %v; want %v", got, err, tt.wantErr)
			}
		})
	}
	// Through the Cipher, a ciphertext moved to another record fails too.
	for _, s := range []Subject{bob, aliceElsewhere} {
		if got, err := c.Decrypt(ctx, s, FieldEmail, sealed); err == nil || got != "" {
			t.Errorf("alice's email opened as %v's: %q, %v", s, got, err)
		}
	}
}

// TestWrongKEK: a data key wrapped under one KEK does not unwrap under
// another, nor moved to another subject, nor under a retired version.
func TestWrongKEK(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ring, _ := newRing(t, "dev", 1)
	store := &MemoryStore{}
	c := &Cipher{Ring: ring, Store: store}
	sealed, err := c.Encrypt(ctx, alice, FieldEmail, "zoe@example.com")
	if err != nil {
		t.Fatal(err)
	}
	otherMaterial, _ := newRing(t, "dev", 1) // same id and version, other key
	otherID, _ := newRing(t, "prod", 1)
	retired, err := ParseKeyring([]byte(`{"id":"dev","current":2,"keys":{"2":"` + strings.Repeat("A", 43) + `="}}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ring    Keyring
		wantErr error
	}{
		{"other key material", otherMaterial, ErrUnwrap},
		{"other keyring", otherID, ErrUnwrap},
		{"version retired", retired, ErrUnknownKEK},
	}
	for _, tt := range tests {
		got, err := (&Cipher{Ring: tt.ring, Store: store}).Decrypt(ctx, alice, FieldEmail, sealed)
		if !errors.Is(err, tt.wantErr) || got != "" {
			t.Errorf("%s: Decrypt = %q, %v; want %v", tt.name, got, err, tt.wantErr)
		}
	}
	// Alice's wrapped key copied into bob's entry does not unwrap there.
	w, _ := store.Get(ctx, []string{alice.Key()})
	if _, err := store.GetOrCreate(ctx, []string{bob.Key()}, w); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KeyOf(ctx, bob); !errors.Is(err, ErrUnwrap) {
		t.Errorf("alice's wrapped key under bob: %v, want %v", err, ErrUnwrap)
	}
}

// TestRotation: after a new KEK version becomes current, new keys wrap
// under it, old ones still open, Rewrap moves every key to it, and the old
// version can then be retired with every ciphertext still readable.
func TestRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v1, file := newRing(t, "dev", 1)
	store := &MemoryStore{}
	old, err := (&Cipher{Ring: v1, Store: store}).Encrypt(ctx, alice, FieldPhone, "+14155550123")
	if err != nil {
		t.Fatal(err)
	}
	// Step 1: v2 is held but not current: nothing changes for writers.
	if file, err = AddKEK(file, false); err != nil {
		t.Fatal(err)
	}
	held, _ := ParseKeyring(file)
	if cur, _ := held.Current(ctx); cur != 1 {
		t.Fatalf("current %d after adding a held version, want 1", cur)
	}
	// Step 2: v2 current.
	file = setCurrent(t, file, 2)
	v2, _ := ParseKeyring(file)
	c := &Cipher{Ring: v2, Store: store}
	fresh, err := c.Encrypt(ctx, bob, FieldPhone, "+442071838750")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Decrypt(ctx, alice, FieldPhone, old); err != nil || got != "+14155550123" {
		t.Fatalf("old ciphertext under the rotated keyring: %q, %v", got, err)
	}
	if counts, _ := KeyVersions(ctx, store); counts[1] != 1 || counts[2] != 1 {
		t.Errorf("key versions %v, want one under 1 and one under 2", counts)
	}
	// Step 3: rewrap, twice (the second finds nothing to do).
	rep, err := Rewrap(ctx, v2, store)
	if err != nil || rep != (RewrapReport{Current: 2, Scanned: 2, Rewrapped: 1, UpToDate: 1}) {
		t.Fatalf("Rewrap = %+v, %v", rep, err)
	}
	if rep, _ := Rewrap(ctx, v2, store); rep.Rewrapped != 0 || rep.UpToDate != 2 {
		t.Errorf("second Rewrap = %+v", rep)
	}
	// Step 4: retire v1. Both ciphertexts still open: rotation never
	// touched them.
	onlyV2 := retire(t, file, "1")
	c = &Cipher{Ring: onlyV2, Store: store}
	for _, tt := range []struct {
		s            Subject
		sealed, want string
	}{{alice, old, "+14155550123"}, {bob, fresh, "+442071838750"}} {
		if got, err := c.Decrypt(ctx, tt.s, FieldPhone, tt.sealed); err != nil || got != tt.want {
			t.Errorf("after retiring v1: %q, %v; want %q", got, err, tt.want)
		}
	}
}

// TestRewrapNeverResurrects: a key erased while Rewrap works on it stays
// erased.
func TestRewrapNeverResurrects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v1, file := newRing(t, "dev", 1)
	inner := &MemoryStore{}
	if _, err := (&Cipher{Ring: v1, Store: inner}).KeysFor(ctx, []Subject{alice}); err != nil {
		t.Fatal(err)
	}
	file, _ = AddKEK(file, true)
	v2, _ := ParseKeyring(file)
	rep, err := Rewrap(ctx, v2, erasingStore{inner})
	if err != nil || rep.Raced != 1 || rep.Rewrapped != 0 {
		t.Fatalf("Rewrap = %+v, %v; want the erased key left alone", rep, err)
	}
	if got, _ := inner.Get(ctx, []string{alice.Key()}); got[0] != "" {
		t.Errorf("rewrap brought back an erased key: %q", got[0])
	}
}

// erasingStore erases a subject just before Rewrap swaps its key, the
// race an operator's erase can win against a running rewrap.
type erasingStore struct{ *MemoryStore }

func (s erasingStore) Swap(ctx context.Context, subject, old, next string) (bool, error) {
	if _, err := s.Delete(ctx, subject); err != nil {
		return false, err
	}
	return s.MemoryStore.Swap(ctx, subject, old, next)
}

// editKeyring changes a keyring file the way an operator edits it.
func editKeyring(t *testing.T, file []byte, edit func(*keyringFile)) []byte {
	t.Helper()
	var f keyringFile
	if err := json.Unmarshal(file, &f); err != nil {
		t.Fatal(err)
	}
	edit(&f)
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setCurrent(t *testing.T, file []byte, v uint32) []byte {
	return editKeyring(t, file, func(f *keyringFile) { f.Current = v })
}

func retire(t *testing.T, file []byte, version string) *LocalKeyring {
	t.Helper()
	k, err := ParseKeyring(editKeyring(t, file, func(f *keyringFile) { delete(f.Keys, version) }))
	if err != nil {
		t.Fatalf("retire %s: %v", version, err)
	}
	if len(k.Versions()) != 1 {
		t.Fatalf("retire %s left %v", version, k.Versions())
	}
	return k
}

func FuzzParseCiphertext(f *testing.F) {
	ring, _ := newRing(f, "dev", 1)
	keys, err := (&Cipher{Ring: ring, Store: &MemoryStore{}}).KeysFor(context.Background(), []Subject{alice})
	if err != nil {
		f.Fatal(err)
	}
	sealed, _ := keys[0].Seal(FieldEmail, "zoe@example.com")
	for _, s := range []string{sealed, "", "enc:v1:", "enc:v1:A256GCM::", "enc:v1:A256GCM:0123456789abcdef:AAAA", "zoe@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCiphertext(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if c.String() != s {
			t.Fatalf("%q parsed and rendered as %q", s, c.String())
		}
		if got, err := keys[0].Open(FieldEmail, s); err == nil && s != sealed {
			t.Fatalf("%q opened to %q", s, got)
		}
	})
}
