// Package pii keeps a lead's personal data (name, email, phone) encrypted
// field by field, erasable by destroying one key, and bounded in time.
//
// # Envelope encryption
//
// Each subject (a partner's lead, spelled schemas.Scoped(partner, lead))
// has its own data key: 32 random bytes, AES-256-GCM. A field is sealed
// under the subject's data key with associated data that names the
// partner, the lead and the field, so a ciphertext copied into another
// record or another field fails to open. The data key is stored only
// wrapped (encrypted) by a key-encryption key (KEK) that a Keyring holds:
// a local file for development, a KMS or Vault behind the same interface
// in production. The wrapped data keys live in a DataKeyStore (Redis:
// RedisStore).
//
// A sealed field is one self-describing string (see Ciphertext):
//
//	enc:v1:A256GCM:<data key id>:<base64url(nonce || ciphertext || tag)>
//
// It names the format version, the algorithm and which data key of the
// subject sealed it. It does not name the KEK version: that lives with the
// wrapped data key, so rotating the KEK re-wraps the data keys and never
// touches a ciphertext — which matters because Kafka records cannot be
// rewritten.
//
// # Nonces and message limits
//
// Every seal draws a fresh 96-bit nonce from crypto/rand. With random
// nonces, AES-GCM stays within its security bound (collision probability
// below 2^-32) for at most 2^32 messages per key (NIST SP 800-38D, 8.3).
// A data key seals the few contact fields of one lead's events: thousands
// at most, far from the limit. A KEK version wraps each data key once at
// creation and once per re-wrap, so one version may wrap at most 2^32 data
// keys; rotate the KEK (Keyring) well before 2^31 subjects have been
// created or re-wrapped under one version. Nonces are never counters, so
// replicas sealing under one key at once need no coordination.
//
// Contact fields are sealed by DataKey.SealStable (SealContact), whose
// nonce is synthetic (SIV): HMAC-SHA256 of the field's associated data and
// value under a key derived from the data key. One value of one field of
// one lead seals to one string under one data key, so an event a partner
// resends stays byte-identical once sealed and dedupe's content
// fingerprint still matches it; only the equality of one lead's values of
// one field shows.
//
// # Erasure, rotation, durability
//
// Erase destroys a subject's data key (crypto-shredding) after writing an
// audit record; from then on every ciphertext of the subject opens to
// ErrErased, wherever it is copied (topics, dead letters, backups of
// records). A reader never creates a key (Cipher.KeyOf), so reading an
// erased subject cannot bring it back. Rewrap re-wraps every stored data key under the KEK's current
// version; old versions keep unwrapping until they are retired.
//
// The DataKeyStore is the only copy of the data keys: it cannot be rebuilt
// from Kafka the way the stages' state can. Losing it loses the personal
// data (every ciphertext opens to ErrErased), never the money, which no
// stage derives from personal data. Run it persistent (Redis with AOF,
// replicated, backed up, and not the stages' cache Redis), see PRIVACY.md.
//
// PlanRetention and ApplyRetention drop monthly ClickHouse partitions
// older than a configured age, because ClickHouse 18.16 has no TTL; every
// table is classed in RetentionPolicy, and money, audit and state tables
// are kept.
//
// The ops CLI's commands are EraseCommand (`reftrack erase`), PIICommand
// (`reftrack pii rewrap|keys|add-kek|activate`) and RetentionCommand
// (`reftrack retention`); the key store's Redis has flags of its own
// (RegisterStoreFlags: --pii-redis, …).
package pii
