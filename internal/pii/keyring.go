package pii

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
)

// Keyring holds the key-encryption keys (KEKs) that wrap data keys. A KEK
// has versions: Wrap always uses the current one and says which, Unwrap
// takes any version the keyring still holds. This is the shape of a KMS
// (AWS KMS Encrypt/Decrypt with an encryption context, Vault transit
// encrypt/decrypt with a context) as well as of LocalKeyring; the key
// material never has to leave the keyring.
type Keyring interface {
	// ID names the keyring in wrapped data keys ([A-Za-z0-9._-]), so a
	// wrapped key is never handed to another keyring by mistake.
	ID() string
	// Current is the version Wrap uses now.
	Current(ctx context.Context) (uint32, error)
	// Wrap encrypts a data key under the current version, bound to aad.
	Wrap(ctx context.Context, dataKey, aad []byte) (version uint32, blob []byte, err error)
	// Unwrap decrypts a blob Wrap made under version with the same aad.
	Unwrap(ctx context.Context, version uint32, blob, aad []byte) ([]byte, error)
}

// ErrUnknownKEK is returned by Unwrap for a version the keyring does not
// hold (retired, or never there).
var ErrUnknownKEK = errors.New("pii: KEK version not in the keyring")

// ErrUnwrap is returned when a wrapped data key does not decrypt: the
// wrong KEK, a blob that was altered, or one wrapped for another subject.
var ErrUnwrap = errors.New("pii: wrapped data key does not open under its KEK")

var keyringID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// LocalKeyring is a keyring kept in a file, for development and tests:
//
//	{"id": "dev", "current": 2, "keys": {"1": "<base64 32 bytes>", "2": "…"}}
//
// The file must not be readable by group or others (mode 0600 or
// stricter): it holds every KEK. In production use a KMS behind Keyring.
type LocalKeyring struct {
	id      string
	current uint32
	keys    map[uint32]cipher.AEAD
}

// keyringFile is the JSON form of a LocalKeyring.
type keyringFile struct {
	ID      string            `json:"id"`
	Current uint32            `json:"current"`
	Keys    map[string]string `json:"keys"`
}

// LoadKeyring reads a keyring file, refusing one that group or others may
// read or write.
func LoadKeyring(path string) (*LocalKeyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	defer f.Close()
	// The mode of the file read, not of whatever the path named a moment
	// before.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("keyring %s has mode %04o: it holds every KEK, so it must be 0600 or stricter (chmod 600 %s)", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	k, err := ParseKeyring(b)
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	return k, nil
}

// ParseKeyring reads the JSON form of a LocalKeyring.
func ParseKeyring(b []byte) (*LocalKeyring, error) {
	var f keyringFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode keyring: %w", err)
	}
	if !keyringID.MatchString(f.ID) {
		return nil, fmt.Errorf("keyring id %q: want [A-Za-z0-9._-], 1..64", f.ID)
	}
	k := &LocalKeyring{id: f.ID, current: f.Current, keys: map[uint32]cipher.AEAD{}}
	var errs []error
	for v, enc := range f.Keys {
		version, err := strconv.ParseUint(v, 10, 32)
		if err != nil || version == 0 {
			errs = append(errs, fmt.Errorf("key version %q: want a positive integer", v))
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(raw) != 32 {
			errs = append(errs, fmt.Errorf("key version %s: want 32 bytes in base64", v))
			continue
		}
		aead, err := newGCM(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("key version %s: %w", v, err))
			continue
		}
		k.keys[uint32(version)] = aead
	}
	if _, ok := k.keys[f.Current]; !ok && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("current version %d is not among the keys", f.Current))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return k, nil
}

// ID implements Keyring.
func (k *LocalKeyring) ID() string { return k.id }

// Current implements Keyring.
func (k *LocalKeyring) Current(context.Context) (uint32, error) { return k.current, nil }

// Versions lists the versions the keyring holds, ascending.
func (k *LocalKeyring) Versions() []uint32 {
	vs := make([]uint32, 0, len(k.keys))
	for v := range k.keys {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	return vs
}

// Wrap implements Keyring: AES-256-GCM under the current KEK, random nonce
// first.
func (k *LocalKeyring) Wrap(_ context.Context, dataKey, aad []byte) (uint32, []byte, error) {
	blob, err := seal(k.keys[k.current], dataKey, aad)
	if err != nil {
		return 0, nil, fmt.Errorf("wrap data key under KEK %s/%d: %w", k.id, k.current, err)
	}
	return k.current, blob, nil
}

// Unwrap implements Keyring.
func (k *LocalKeyring) Unwrap(_ context.Context, version uint32, blob, aad []byte) ([]byte, error) {
	aead, ok := k.keys[version]
	if !ok {
		return nil, fmt.Errorf("unwrap under KEK %s/%d: %w", k.id, version, ErrUnknownKEK)
	}
	dk, err := open(aead, blob, aad)
	if err != nil {
		return nil, fmt.Errorf("unwrap under KEK %s/%d: %w", k.id, version, ErrUnwrap)
	}
	return dk, nil
}

// NewKeyringFile returns the JSON of a fresh keyring with one random KEK
// (version 1, current).
func NewKeyringFile(id string) ([]byte, error) {
	return AddKEK(fmt.Appendf(nil, `{"id":%q,"current":0,"keys":{}}`, id), true)
}

// AddKEK returns the keyring JSON b with one more random KEK, numbered one
// above the highest; makeCurrent also makes it the current version. The
// rotation is two deployments of the file: first with the new version
// held but not current (every replica can unwrap it), then current.
func AddKEK(b []byte, makeCurrent bool) ([]byte, error) {
	var f keyringFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode keyring: %w", err)
	}
	if f.Keys == nil {
		f.Keys = map[string]string{}
	}
	var top uint64
	for v := range f.Keys {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("key version %q: want a positive integer", v)
		}
		top = max(top, n)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("draw a KEK: %w", err)
	}
	next := uint32(top + 1)
	f.Keys[strconv.FormatUint(uint64(next), 10)] = base64.StdEncoding.EncodeToString(raw)
	if makeCurrent {
		f.Current = next
	}
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode keyring: %w", err)
	}
	if _, err := ParseKeyring(out); err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// SetCurrentKEK returns the keyring JSON b with version made current; the
// keyring must already hold it (deployed held-but-not-current first).
func SetCurrentKEK(b []byte, version uint32) ([]byte, error) {
	var f keyringFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode keyring: %w", err)
	}
	f.Current = version
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode keyring: %w", err)
	}
	if _, err := ParseKeyring(out); err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// WriteKeyringFile writes a keyring file with mode 0600, replacing path
// atomically so a reader never sees half a keyring.
func WriteKeyringFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // WriteFile keeps an existing file's mode
		return fmt.Errorf("write keyring: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	return nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// seal encrypts with a fresh random 96-bit nonce, returned in front of the
// ciphertext (see the package doc for why random nonces are safe here).
func seal(aead cipher.AEAD, plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("draw a nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, plaintext, aad), nil
}

// open is seal's inverse.
func open(aead cipher.AEAD, blob, aad []byte) ([]byte, error) {
	if len(blob) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("too short")
	}
	n := aead.NonceSize()
	return aead.Open(nil, blob[:n], blob[n:], aad)
}
