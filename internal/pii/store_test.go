package pii

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/reftrack/reftrack/internal/testenv"
)

// stores runs a test against every DataKeyStore: the real Redis and
// memory, so both keep the same contract.
func stores(t *testing.T, run func(t *testing.T, store DataKeyStore)) {
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		run(t, redisStore(t))
	})
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		run(t, &MemoryStore{})
	})
}

// TestStoreContract: get, get-or-create keeping the first, swap only over
// what was read, delete, scan.
func TestStoreContract(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, s DataKeyStore) {
		ctx := context.Background()
		got, err := s.GetOrCreate(ctx, []string{"a|1", "a|2"}, []string{"k1", "k2"})
		if err != nil || strings.Join(got, ",") != "k1,k2" {
			t.Fatalf("GetOrCreate = %v, %v", got, err)
		}
		got, _ = s.GetOrCreate(ctx, []string{"a|1", "a|3"}, []string{"other", "k3"})
		if strings.Join(got, ",") != "k1,k3" {
			t.Errorf("GetOrCreate over an existing key = %v, want k1,k3", got)
		}
		if got, _ := s.Get(ctx, []string{"a|2", "a|9"}); strings.Join(got, ",") != "k2," {
			t.Errorf("Get = %q", got)
		}
		if ok, _ := s.Swap(ctx, "a|2", "stale", "k2'"); ok {
			t.Error("Swap over a value it did not read succeeded")
		}
		if ok, _ := s.Swap(ctx, "a|2", "k2", "k2'"); !ok {
			t.Error("Swap over what it read failed")
		}
		if ok, _ := s.Swap(ctx, "a|9", "", "k9"); ok {
			t.Error("Swap created a key")
		}
		if ok, _ := s.Delete(ctx, "a|3"); !ok {
			t.Error("Delete of a key said there was none")
		}
		if ok, _ := s.Delete(ctx, "a|3"); ok {
			t.Error("second Delete said there was a key")
		}
		seen := map[string]string{}
		if err := s.Scan(ctx, func(sub, w string) error { seen[sub] = w; return nil }); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(seen) != "map[a|1:k1 a|2:k2']" {
			t.Errorf("Scan saw %v", seen)
		}
	})
}

// TestConcurrentReplicasShareOneKey: replicas that race to create a
// subject's first key all end up with the same key, so nothing one of
// them seals is lost.
func TestConcurrentReplicasShareOneKey(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, store DataKeyStore) {
		ring, _ := newRing(t, "dev", 1)
		const replicas = 8
		subjects := []Subject{alice, bob, aliceElsewhere}
		ids := make([][]string, replicas)
		sealed := make([]string, replicas)
		var wg sync.WaitGroup
		for r := range replicas {
			wg.Go(func() {
				c := &Cipher{Ring: ring, Store: store}
				keys, err := c.KeysFor(context.Background(), subjects)
				if err != nil {
					t.Error(err)
					return
				}
				for _, k := range keys {
					ids[r] = append(ids[r], k.ID())
				}
				sealed[r], _ = keys[0].Seal(FieldEmail, fmt.Sprintf("r%d@example.com", r))
			})
		}
		wg.Wait()
		c := &Cipher{Ring: ring, Store: store}
		for r := range replicas {
			if strings.Join(ids[r], ",") != strings.Join(ids[0], ",") {
				t.Errorf("replica %d got keys %v, replica 0 %v", r, ids[r], ids[0])
			}
			if got, err := c.Decrypt(context.Background(), alice, FieldEmail, sealed[r]); err != nil || got != fmt.Sprintf("r%d@example.com", r) {
				t.Errorf("replica %d's seal opens to %q, %v", r, got, err)
			}
		}
	})
}

// redisStore is a RedisStore on the real Redis under a prefix of the
// test's own, whose keys are deleted when the test ends.
func redisStore(t *testing.T) *RedisStore {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			_ = rdb.Del(ctx, iter.Val()).Err()
		}
	})
	return &RedisStore{RDB: rdb, Prefix: prefix}
}
