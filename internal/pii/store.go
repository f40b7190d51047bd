package pii

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// DataKeyStore keeps the wrapped data keys, one per subject
// (Subject.Key). It is the only copy of them: it must be durable and
// backed up, and it cannot be rebuilt from anything else (losing it loses
// the personal data, never the money). Every method is atomic per subject.
type DataKeyStore interface {
	// Get returns each subject's wrapped key, "" where it has none.
	Get(ctx context.Context, subjects []string) ([]string, error)
	// GetOrCreate stores candidates[i] as subjects[i]'s key unless it has
	// one, and returns the key each subject has afterwards: of callers
	// racing to create a subject's key, all get the first one stored.
	GetOrCreate(ctx context.Context, subjects, candidates []string) ([]string, error)
	// Delete destroys a subject's key; false when it had none.
	Delete(ctx context.Context, subject string) (bool, error)
	// Swap replaces a subject's key with next only while it is still old:
	// a re-wrap racing an erasure must not bring the key back.
	Swap(ctx context.Context, subject, old, next string) (bool, error)
	// Scan calls fn with every stored key, in batches; a key created or
	// destroyed during the scan may or may not be seen.
	Scan(ctx context.Context, fn func(subject, wrapped string) error) error
}

// RedisStore is a DataKeyStore in Redis: one string per subject at
// <Prefix>pii:dek:<partner|lead>. Point it at a Redis that persists every
// write (appendonly yes, appendfsync always or everysec with replicas) and
// is backed up; the stages' Redis is a cache rebuilt from changelogs, this
// is not. Keys of one batch are read and created in one MULTI/EXEC, so it
// needs a single Redis (or hash-tagged keys on a cluster).
type RedisStore struct {
	RDB    redis.UniversalClient
	Prefix string // e.g. "reftrack:"; the dev default of --redis-key-prefix
}

// keyspace is the part of a store key after the prefix.
const keyspace = "pii:dek:"

func (s *RedisStore) key(subject string) string { return s.Prefix + keyspace + subject }

// Get implements DataKeyStore with one MGET.
func (s *RedisStore) Get(ctx context.Context, subjects []string) ([]string, error) {
	if len(subjects) == 0 {
		return nil, nil
	}
	keys := make([]string, len(subjects))
	for i, sub := range subjects {
		keys[i] = s.key(sub)
	}
	vals, err := s.RDB.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis MGET data keys: %w", err)
	}
	return strings0(vals), nil
}

// GetOrCreate implements DataKeyStore: SET NX then GET per subject, all in
// one MULTI/EXEC, so what GET returns is what won the race, and no erasure
// can fall between the two.
func (s *RedisStore) GetOrCreate(ctx context.Context, subjects, candidates []string) ([]string, error) {
	if len(subjects) != len(candidates) {
		return nil, errors.New("pii: GetOrCreate needs one candidate per subject")
	}
	gets := make([]*redis.StringCmd, len(subjects))
	_, err := s.RDB.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, sub := range subjects {
			p.SetNX(ctx, s.key(sub), candidates[i], 0)
			gets[i] = p.Get(ctx, s.key(sub))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis SET NX + GET data keys: %w", err)
	}
	out := make([]string, len(gets))
	for i, g := range gets {
		out[i] = g.Val()
	}
	return out, nil
}

// Delete implements DataKeyStore.
func (s *RedisStore) Delete(ctx context.Context, subject string) (bool, error) {
	n, err := s.RDB.Del(ctx, s.key(subject)).Result()
	if err != nil {
		return false, fmt.Errorf("redis DEL the data key of %s: %w", subject, err)
	}
	return n > 0, nil
}

// swapScript sets KEYS[1] to ARGV[2] only while it holds ARGV[1].
var swapScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0`)

// Swap implements DataKeyStore with a compare-and-set script.
func (s *RedisStore) Swap(ctx context.Context, subject, old, next string) (bool, error) {
	n, err := swapScript.Run(ctx, s.RDB, []string{s.key(subject)}, old, next).Int()
	if err != nil {
		return false, fmt.Errorf("redis swap the data key of %s: %w", subject, err)
	}
	return n == 1, nil
}

// Scan implements DataKeyStore: SCAN over the store's keys, MGET per page.
func (s *RedisStore) Scan(ctx context.Context, fn func(subject, wrapped string) error) error {
	match := globEscape(s.Prefix+keyspace) + "*"
	var cursor uint64
	for {
		keys, next, err := s.RDB.Scan(ctx, cursor, match, 500).Result()
		if err != nil {
			return fmt.Errorf("redis SCAN data keys: %w", err)
		}
		if len(keys) > 0 {
			vals, err := s.RDB.MGet(ctx, keys...).Result()
			if err != nil {
				return fmt.Errorf("redis MGET data keys: %w", err)
			}
			for i, v := range strings0(vals) {
				if v == "" { // destroyed since the SCAN page
					continue
				}
				if err := fn(strings.TrimPrefix(keys[i], s.Prefix+keyspace), v); err != nil {
					return err
				}
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// strings0 turns MGET's answers into strings, "" for a missing key.
func strings0(vals []any) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = s
		}
	}
	return out
}

// globEscape quotes SCAN MATCH's special characters in a literal prefix.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// MemoryStore is a DataKeyStore in process memory, for tests and
// experiments: it forgets every key (hence every subject's personal data)
// when the process ends.
type MemoryStore struct {
	mu   sync.Mutex
	keys map[string]string
}

// Get implements DataKeyStore.
func (m *MemoryStore) Get(_ context.Context, subjects []string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(subjects))
	for i, s := range subjects {
		out[i] = m.keys[s]
	}
	return out, nil
}

// GetOrCreate implements DataKeyStore.
func (m *MemoryStore) GetOrCreate(_ context.Context, subjects, candidates []string) ([]string, error) {
	if len(subjects) != len(candidates) {
		return nil, errors.New("pii: GetOrCreate needs one candidate per subject")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string]string{}
	}
	out := make([]string, len(subjects))
	for i, s := range subjects {
		if _, ok := m.keys[s]; !ok {
			m.keys[s] = candidates[i]
		}
		out[i] = m.keys[s]
	}
	return out, nil
}

// Delete implements DataKeyStore.
func (m *MemoryStore) Delete(_ context.Context, subject string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.keys[subject]
	delete(m.keys, subject)
	return ok, nil
}

// Swap implements DataKeyStore.
func (m *MemoryStore) Swap(_ context.Context, subject, old, next string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.keys[subject]; !ok || cur != old {
		return false, nil
	}
	m.keys[subject] = next
	return true, nil
}

// Scan implements DataKeyStore, in subject order.
func (m *MemoryStore) Scan(ctx context.Context, fn func(subject, wrapped string) error) error {
	m.mu.Lock()
	subjects := make([]string, 0, len(m.keys))
	for s := range m.keys {
		subjects = append(subjects, s)
	}
	m.mu.Unlock()
	sort.Strings(subjects)
	for _, s := range subjects {
		got, _ := m.Get(ctx, []string{s})
		if got[0] == "" {
			continue
		}
		if err := fn(s, got[0]); err != nil {
			return err
		}
	}
	return nil
}
