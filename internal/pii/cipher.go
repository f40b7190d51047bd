package pii

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/reftrack/reftrack/schemas"
)

// ErrErased is what opening a field yields once its subject's data key
// was destroyed (Erase): the personal data is gone, by design.
var ErrErased = errors.New("erased")

// ErrTampered is what opening a field yields when it does not authenticate
// under its subject's key: the ciphertext was altered, or it was copied
// from another record or field (the associated data names partner, lead
// and field).
var ErrTampered = errors.New("pii: ciphertext does not authenticate for this partner, lead and field")

// ErrMalformed is what parsing yields for a string that is not a
// ciphertext of a format this package reads.
var ErrMalformed = errors.New("pii: not a ciphertext")

// Fields of the lead's contact (schemas.Contact) that are sealed.
const (
	FieldName  = "name"
	FieldEmail = "email"
	FieldPhone = "phone"
)

// Subject is whose personal data a key protects: one partner's lead.
type Subject struct{ Partner, Lead string }

// Key is the subject's tenant-scoped spelling, schemas.Scoped.
func (s Subject) Key() string { return schemas.Scoped(s.Partner, s.Lead) }

func (s Subject) validate() error {
	if s.Partner == "" || s.Lead == "" || strings.Contains(s.Partner, "|") {
		return fmt.Errorf("subject %q/%q: want a partner (without |) and a lead", s.Partner, s.Lead)
	}
	return nil
}

// Ciphertext is a sealed field. Its string form travels in place of the
// clear value:
//
//	enc:v1:A256GCM:<key id, 16 hex>:<base64url(nonce || ciphertext || tag), unpadded>
type Ciphertext struct {
	Alg   string // AlgAES256GCM
	KeyID string // the data key of the subject that sealed it
	Blob  []byte // 12-byte nonce, ciphertext, 16-byte tag
}

// Format constants of Ciphertext.
const (
	// Prefix starts every ciphertext string of format version 1; a value
	// that starts with "enc:" is never a clear contact field.
	Prefix       = "enc:v1:"
	AlgAES256GCM = "A256GCM"
)

// IsCiphertext says whether a field value is sealed (of any version this
// package would recognise), without parsing it.
func IsCiphertext(s string) bool { return strings.HasPrefix(s, "enc:") }

// String renders the ciphertext.
func (c Ciphertext) String() string {
	return Prefix + c.Alg + ":" + c.KeyID + ":" + base64.RawURLEncoding.EncodeToString(c.Blob)
}

// ParseCiphertext reads a ciphertext string. It checks the shape only;
// DataKey.Open authenticates it.
func ParseCiphertext(s string) (Ciphertext, error) {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return Ciphertext{}, fmt.Errorf("%w: want the prefix %q", ErrMalformed, Prefix)
	}
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) != 3 {
		return Ciphertext{}, fmt.Errorf("%w: want %salg:key-id:data", ErrMalformed, Prefix)
	}
	c := Ciphertext{Alg: parts[0], KeyID: parts[1]}
	if c.Alg != AlgAES256GCM {
		return Ciphertext{}, fmt.Errorf("%w: algorithm %q unknown", ErrMalformed, c.Alg)
	}
	if !validKeyID(c.KeyID) {
		return Ciphertext{}, fmt.Errorf("%w: key id %q: want 16 lower-case hex digits", ErrMalformed, c.KeyID)
	}
	blob, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(blob) < gcmNonceSize+gcmTagSize {
		return Ciphertext{}, fmt.Errorf("%w: data is not unpadded base64url of at least %d bytes", ErrMalformed, gcmNonceSize+gcmTagSize)
	}
	c.Blob = blob
	return c, nil
}

const (
	gcmNonceSize = 12
	gcmTagSize   = 16
	keyIDBytes   = 8
)

func validKeyID(id string) bool {
	if len(id) != 2*keyIDBytes {
		return false
	}
	for _, r := range id {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// aad joins length-prefixed parts, so no choice of ids (a lead id may
// hold any character) makes two different tuples the same bytes.
func aad(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// fieldAAD binds a field's ciphertext to its header, record and field.
func fieldAAD(alg, keyID string, s Subject, field string) []byte {
	return aad("reftrack.pii.field.v1", alg, keyID, s.Partner, s.Lead, field)
}

// DataKey is one subject's unwrapped data key.
type DataKey struct {
	subject    Subject
	id         string
	kekVersion uint32
	aead       cipher.AEAD
	nonceKey   []byte // SealStable's PRF key, derived from the data key
}

// ID is the key's id, named by every ciphertext it seals.
func (k *DataKey) ID() string { return k.id }

// Subject is whose key it is.
func (k *DataKey) Subject() Subject { return k.subject }

// Seal encrypts one field's clear value.
func (k *DataKey) Seal(field, value string) (string, error) {
	blob, err := seal(k.aead, []byte(value), fieldAAD(AlgAES256GCM, k.id, k.subject, field))
	if err != nil {
		return "", fmt.Errorf("seal %s of %s: %w", field, k.subject.Key(), err)
	}
	return Ciphertext{Alg: AlgAES256GCM, KeyID: k.id, Blob: blob}.String(), nil
}

// SealStable is Seal with a synthetic nonce instead of a random one: the
// first 96 bits of HMAC-SHA256, under a key derived from the data key
// (nonceKeyOf), of the field's associated data and value — the SIV
// construction (Rogaway and Shrimpton, deterministic authenticated
// encryption). The same value of the same field of the same subject under
// the same data key seals to the same string, so an event a partner sends
// again stays byte-identical once sealed and dedupe's content fingerprint
// still recognizes it. Distinct values get independent nonces (a
// collision needs about 2^48 values of one lead). What it reveals beyond
// Seal: that two of one lead's values of one field are equal; nothing
// across fields, leads or data keys. Open reads both.
func (k *DataKey) SealStable(field, value string) (string, error) {
	ad := fieldAAD(AlgAES256GCM, k.id, k.subject, field)
	mac := hmac.New(sha256.New, k.nonceKey)
	mac.Write(binary.BigEndian.AppendUint32(nil, uint32(len(ad))))
	mac.Write(ad)
	mac.Write([]byte(value))
	nonce := mac.Sum(nil)[:gcmNonceSize]
	blob := k.aead.Seal(nonce, nonce, []byte(value), ad)
	return Ciphertext{Alg: AlgAES256GCM, KeyID: k.id, Blob: blob}.String(), nil
}

// nonceKeyOf derives SealStable's PRF key from a data key, so the AES key
// itself is never used as an HMAC key.
func nonceKeyOf(dataKey []byte) []byte {
	mac := hmac.New(sha256.New, dataKey)
	mac.Write([]byte("reftrack.pii.nonce.v1"))
	return mac.Sum(nil)
}

// Open decrypts one field. A ciphertext sealed by another key of the
// subject (one that Erase destroyed before this key was made) is
// ErrErased; one that does not authenticate is ErrTampered.
func (k *DataKey) Open(field, value string) (string, error) {
	c, err := ParseCiphertext(value)
	if err != nil {
		return "", err
	}
	if c.KeyID != k.id {
		return "", fmt.Errorf("open %s of %s: sealed by data key %s, which no longer exists: %w", field, k.subject.Key(), c.KeyID, ErrErased)
	}
	clear, err := open(k.aead, c.Blob, fieldAAD(c.Alg, c.KeyID, k.subject, field))
	if err != nil {
		return "", fmt.Errorf("open %s of %s: %w", field, k.subject.Key(), ErrTampered)
	}
	return string(clear), nil
}

// wrappedKey is a data key as the store keeps it:
//
//	v1:<keyring id>:<KEK version>:<key id>:<base64(nonce || wrapped key || tag)>
type wrappedKey struct {
	Ring       string
	KEKVersion uint32
	ID         string
	Blob       []byte
}

const wrappedPrefix = "v1:"

func (w wrappedKey) String() string {
	return wrappedPrefix + w.Ring + ":" + strconv.FormatUint(uint64(w.KEKVersion), 10) + ":" + w.ID + ":" +
		base64.StdEncoding.EncodeToString(w.Blob)
}

func parseWrapped(s string) (wrappedKey, error) {
	rest, ok := strings.CutPrefix(s, wrappedPrefix)
	parts := strings.Split(rest, ":")
	if !ok || len(parts) != 4 {
		return wrappedKey{}, errors.New("pii: stored data key: want v1:ring:version:id:data")
	}
	v, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil || !validKeyID(parts[2]) {
		return wrappedKey{}, errors.New("pii: stored data key: bad version or key id")
	}
	blob, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil {
		return wrappedKey{}, fmt.Errorf("pii: stored data key: %w", err)
	}
	return wrappedKey{Ring: parts[0], KEKVersion: uint32(v), ID: parts[2], Blob: blob}, nil
}

// wrapAAD binds a wrapped data key to its keyring, id and subject, so a
// wrapped key copied to another subject's entry does not unwrap.
func wrapAAD(ring, id string, s Subject) []byte {
	return aad("reftrack.pii.dek.v1", ring, id, s.Partner, s.Lead)
}

// Cipher seals and opens subjects' fields: data keys from Store, wrapped
// by Ring.
type Cipher struct {
	Ring  Keyring
	Store DataKeyStore
}

// KeysFor returns each subject's data key, creating the missing ones: a
// new key is wrapped and offered to the store, which keeps the first one
// offered (two replicas racing get the same key). One store round trip
// for the lookups and one for the creations, whatever the batch size.
func (c *Cipher) KeysFor(ctx context.Context, subjects []Subject) ([]*DataKey, error) {
	keys := make([]string, len(subjects))
	for i, s := range subjects {
		if err := s.validate(); err != nil {
			return nil, err
		}
		keys[i] = s.Key()
	}
	stored, err := c.Store.Get(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("look up data keys: %w", err)
	}
	var missing []int
	var missKeys, candidates []string
	for i, w := range stored {
		if w != "" {
			continue
		}
		cand, err := c.newWrapped(ctx, subjects[i])
		if err != nil {
			return nil, err
		}
		missing, missKeys, candidates = append(missing, i), append(missKeys, keys[i]), append(candidates, cand)
	}
	if len(missing) > 0 {
		won, err := c.Store.GetOrCreate(ctx, missKeys, candidates)
		if err != nil {
			return nil, fmt.Errorf("create data keys: %w", err)
		}
		for j, i := range missing {
			stored[i] = won[j]
		}
	}
	out := make([]*DataKey, len(subjects))
	for i, w := range stored {
		if out[i], err = c.unwrap(ctx, subjects[i], w); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// KeyOf returns the subject's existing data key, or ErrErased when it has
// none (erased, or never given personal data). It never creates one: a
// reader must not bring a subject back.
func (c *Cipher) KeyOf(ctx context.Context, s Subject) (*DataKey, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	stored, err := c.Store.Get(ctx, []string{s.Key()})
	if err != nil {
		return nil, fmt.Errorf("look up the data key of %s: %w", s.Key(), err)
	}
	if stored[0] == "" {
		return nil, fmt.Errorf("data key of %s: %w", s.Key(), ErrErased)
	}
	return c.unwrap(ctx, s, stored[0])
}

// Encrypt seals one field of a subject, creating its key when needed.
// Sealing many fields or records: KeysFor once, then DataKey.Seal.
func (c *Cipher) Encrypt(ctx context.Context, s Subject, field, value string) (string, error) {
	keys, err := c.KeysFor(ctx, []Subject{s})
	if err != nil {
		return "", err
	}
	return keys[0].Seal(field, value)
}

// Decrypt opens one field of a subject: ErrErased once the subject was
// erased, ErrTampered when the ciphertext is not this field's.
func (c *Cipher) Decrypt(ctx context.Context, s Subject, field, value string) (string, error) {
	if _, err := ParseCiphertext(value); err != nil {
		return "", err
	}
	k, err := c.KeyOf(ctx, s)
	if err != nil {
		return "", err
	}
	return k.Open(field, value)
}

// newWrapped draws a data key and wraps it under the current KEK.
func (c *Cipher) newWrapped(ctx context.Context, s Subject) (string, error) {
	raw := make([]byte, 32+keyIDBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("draw a data key: %w", err)
	}
	dk, id := raw[:32], hex.EncodeToString(raw[32:])
	ring := c.Ring.ID()
	v, blob, err := c.Ring.Wrap(ctx, dk, wrapAAD(ring, id, s))
	if err != nil {
		return "", fmt.Errorf("wrap a data key for %s: %w", s.Key(), err)
	}
	return wrappedKey{Ring: ring, KEKVersion: v, ID: id, Blob: blob}.String(), nil
}

// unwrap turns a stored data key into a usable one.
func (c *Cipher) unwrap(ctx context.Context, s Subject, stored string) (*DataKey, error) {
	w, err := parseWrapped(stored)
	if err != nil {
		return nil, fmt.Errorf("data key of %s: %w", s.Key(), err)
	}
	if w.Ring != c.Ring.ID() {
		return nil, fmt.Errorf("data key of %s is wrapped by keyring %q, not %q: %w", s.Key(), w.Ring, c.Ring.ID(), ErrUnwrap)
	}
	raw, err := c.Ring.Unwrap(ctx, w.KEKVersion, w.Blob, wrapAAD(w.Ring, w.ID, s))
	if err != nil {
		return nil, fmt.Errorf("data key of %s: %w", s.Key(), err)
	}
	aead, err := newGCM(raw)
	if err != nil {
		return nil, fmt.Errorf("data key of %s: %w", s.Key(), err)
	}
	return &DataKey{subject: s, id: w.ID, kekVersion: w.KEKVersion, aead: aead, nonceKey: nonceKeyOf(raw)}, nil
}
