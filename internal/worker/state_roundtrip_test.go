package worker

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// roundTrips counts what a client sends to Redis: each command or pipeline
// is one round trip, whatever it holds.
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

var _ redis.Hook = (*roundTrips)(nil)

// A batch's state costs one round trip to read it (markers and values
// together) and one to apply it after the commit, however many partitions
// and keys it touches: Redis spends most of its CPU per round trip, not per
// key, and small batches under light load would otherwise pay several each.
func TestStateOneRoundTripEachWay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStateFixture(t)
	count := &roundTrips{}
	f.rdb.AddHook(count)
	s := f.state()
	parts := []int32{0, 1, 2}
	keys := []StateKey{{0, "acme|a"}, {1, "acme|b"}, {2, "acme|c"}, {2, "acme|d"}}
	// The first batch finds each partition unchecked and the script not
	// loaded; the steady state is what matters.
	for batch := 0; batch < 3; batch++ {
		before := count.n.Load()
		tx, recs := f.txn(ctx, s, parts, true, func(tx *StateTxn) {
			if err := tx.Prefetch(ctx, keys...); err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if _, _, err := tx.Get(ctx, k); err != nil {
					t.Fatal(err)
				}
				tx.Put(k, []byte("v"), 0)
			}
		})
		read := count.n.Load() - before
		if err := tx.Commit(ctx, recs); err != nil {
			t.Fatal(err)
		}
		applied := count.n.Load() - before - read
		if batch > 0 && (read != 1 || applied != 1) {
			t.Errorf("batch %d: %d round trips to read the state and %d to apply it, want 1 and 1", batch, read, applied)
		}
	}
	if s.restores.Load() != 0 {
		t.Errorf("%d restores while Redis was intact", s.restores.Load())
	}
}

// Begin reads no marker of a partition it knows, so Redis lost after the
// last apply is found by the batch's first read, which restores the
// partition from the changelog and reads it again: the batch goes on with
// the values the changelog holds, as if Begin had found the loss.
func TestStateReadRestoresRedisLostSinceLastBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStateFixture(t)
	s := f.state()
	a, b := StateKey{0, "acme|a"}, StateKey{1, "acme|b"}
	tx, recs := f.txn(ctx, s, []int32{0, 1}, true, func(tx *StateTxn) {
		tx.Put(a, []byte("a1"), 0)
		tx.Put(b, []byte("b1"), 0)
	})
	if err := tx.Commit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	next, err := s.Begin(ctx, []int32{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	f.loseRedis(ctx)
	if err := next.Prefetch(ctx, a, b); err != nil {
		t.Fatalf("read after losing Redis: %v", err)
	}
	for k, want := range map[StateKey]string{a: "a1", b: "b1"} {
		if v, ok, err := next.Get(ctx, k); err != nil || !ok || string(v) != want {
			t.Errorf("%v = %q, %v, %v; want %s from the changelog", k, v, ok, err, want)
		}
	}
	if n := s.restores.Load(); n != 2 {
		t.Errorf("%d restores, want one per partition", n)
	}
}
