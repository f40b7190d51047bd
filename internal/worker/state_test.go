package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// stateFixture is a kfake cluster with the stage's changelog, a
// transactional producer standing in for the stage's session, and the real
// Redis under a key prefix of the test's own.
type stateFixture struct {
	t      *testing.T
	cfg    Config
	rdb    *redis.Client
	prefix string
	prod   *kgo.Client
}

func newStateFixture(t *testing.T) *stateFixture {
	t.Helper()
	const stage = "teststage"
	brokers := testenv.Kafka(t, 3, schemas.ChangelogTopic(stage))
	rdb, prefix := testenv.Redis(t)
	cfg := Config{Brokers: brokers[0]}
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("state-test-"+testenv.RandomID()),
		kgo.RecordPartitioner(ChangelogPartitioner(schemas.ChangelogTopic(stage))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	return &stateFixture{t: t, cfg: cfg, rdb: rdb, prefix: prefix, prod: prod}
}

func (f *stateFixture) state() *State {
	f.t.Helper()
	s, err := NewState(f.cfg, "teststage", f.rdb, f.prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(s.Close)
	return s
}

// txn runs one batch's Kafka transaction with the writes of fn; commit
// false aborts it. It returns the produced records, for StateTxn.Commit.
func (f *stateFixture) txn(ctx context.Context, s *State, parts []int32, commit bool, fn func(*StateTxn)) (*StateTxn, []*kgo.Record) {
	f.t.Helper()
	tx, err := s.Begin(ctx, parts)
	if err != nil {
		f.t.Fatal(err)
	}
	fn(tx)
	if err := f.prod.BeginTransaction(); err != nil {
		f.t.Fatal(err)
	}
	recs := tx.Records()
	if err := f.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		f.t.Fatal(err)
	}
	if err := f.prod.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		f.t.Fatal(err)
	}
	return tx, recs
}

// loseRedis deletes every key of the test, as a Redis restarted without
// persistence would.
func (f *stateFixture) loseRedis(ctx context.Context) {
	f.t.Helper()
	keys, err := f.rdb.Keys(ctx, f.prefix+"*").Result()
	if err != nil {
		f.t.Fatal(err)
	}
	if len(keys) > 0 {
		if err := f.rdb.Del(ctx, keys...).Err(); err != nil {
			f.t.Fatal(err)
		}
	}
}

func get(t *testing.T, ctx context.Context, s *State, k StateKey) string {
	t.Helper()
	tx, err := s.Begin(ctx, []int32{k.Partition})
	if err != nil {
		t.Fatal(err)
	}
	v, ok, err := tx.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return "<none>"
	}
	return string(v)
}

func TestStateSurvivesRedisLoss(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStateFixture(t)
	s := f.state()

	a, b, gone, expired := StateKey{0, "acme|L1"}, StateKey{1, "acme|L2"}, StateKey{0, "acme|L3"}, StateKey{1, "acme|L4"}
	tx, recs := f.txn(ctx, s, []int32{0, 1}, true, func(tx *StateTxn) {
		tx.Put(a, []byte("a1"), 0)
		tx.Put(b, []byte("b1"), time.Hour)
		tx.Put(gone, []byte("x"), 0)
		tx.Put(expired, []byte("old"), time.Millisecond)
	})
	if err := tx.Commit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	tx, recs = f.txn(ctx, s, []int32{0}, true, func(tx *StateTxn) {
		if v, _, _ := tx.Get(ctx, a); string(v) != "a1" {
			t.Errorf("a batch reads %q, want the last batch's a1", v)
		}
		tx.Put(a, []byte("a2"), 0)
		if v, _, _ := tx.Get(ctx, a); string(v) != "a2" {
			t.Errorf("a batch reads %q after writing a2", v)
		}
		tx.Delete(gone)
	})
	if err := tx.Commit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // let the 1 ms value expire; no assertion on time
	if s.restores.Load() != 0 {
		t.Fatalf("%d restores while Redis was intact", s.restores.Load())
	}

	f.loseRedis(ctx)
	want := map[StateKey]string{a: "a2", b: "b1", gone: "<none>", expired: "<none>"}
	for k, w := range want {
		if got := get(t, ctx, s, k); got != w {
			t.Errorf("after losing Redis %v = %s, want %s", k, got, w)
		}
	}
	if s.restores.Load() != 2 {
		t.Errorf("%d restores, want one per partition", s.restores.Load())
	}
	if ttl := f.rdb.PTTL(ctx, s.dataKey(1, b.Key)).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("restored value's TTL %s, want its remaining hour", ttl)
	}
	// A fresh process (new owner) on the intact Redis replays nothing.
	s2 := f.state()
	if got := get(t, ctx, s2, a); got != "a2" || s2.restores.Load() != 0 {
		t.Errorf("new owner reads %s after %d restores", got, s2.restores.Load())
	}
}

func TestStateAbortedBatchLeavesNoTrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStateFixture(t)
	s := f.state()
	k := StateKey{2, "acme|claim"}
	tx, recs := f.txn(ctx, s, []int32{2}, true, func(tx *StateTxn) { tx.Put(k, []byte("first"), 0) })
	if err := tx.Commit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	// The redo of an aborted batch must read what the first attempt read.
	f.txn(ctx, s, []int32{2}, false, func(tx *StateTxn) { tx.Put(k, []byte("aborted"), 0) })
	if got := get(t, ctx, s, k); got != "first" {
		t.Fatalf("after an aborted batch %s, want first", got)
	}
	f.loseRedis(ctx)
	if got := get(t, ctx, f.state(), k); got != "first" {
		t.Fatalf("restored %s: the changelog replay took an aborted write", got)
	}
}

func TestStateLateApplyOfFencedZombieIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStateFixture(t)
	k := StateKey{0, "acme|paid"}
	zombie, owner := f.state(), f.state()

	// The zombie commits its transaction but stalls before applying it.
	ztx, zrecs := f.txn(ctx, zombie, []int32{0}, true, func(tx *StateTxn) { tx.Put(k, []byte("v1"), 0) })
	// The new owner sees v1 (from the changelog), writes v2, applies it.
	if got := get(t, ctx, owner, k); got != "v1" {
		t.Fatalf("new owner reads %s, want v1 from the changelog", got)
	}
	tx, recs := f.txn(ctx, owner, []int32{0}, true, func(tx *StateTxn) { tx.Put(k, []byte("v2"), 0) })
	if err := tx.Commit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	// The zombie wakes up and applies.
	if err := ztx.Commit(ctx, zrecs); err != nil {
		t.Fatal(err)
	}
	if got := get(t, ctx, owner, k); got != "v2" {
		t.Fatalf("after the zombie's late apply %s, want v2", got)
	}
}

func TestStateApplyFailureIsRepairedFromTheChangelog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newStateFixture(t)
	s := f.state()
	k := StateKey{1, "acme|status"}
	tx, recs := f.txn(ctx, s, []int32{1}, true, func(tx *StateTxn) { tx.Put(k, []byte("contacted"), 0) })
	if err := tx.Commit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	tx, recs = f.txn(ctx, s, []int32{1}, true, func(tx *StateTxn) { tx.Put(k, []byte("quoted"), 0) })
	// Redis fails right after the Kafka commit: the apply does not land.
	dead, cancel := context.WithCancel(ctx)
	cancel()
	if err := tx.Commit(dead, recs); err == nil {
		t.Fatal("apply with a dead context succeeded")
	}
	if got := f.rdb.Get(ctx, s.dataKey(1, k.Key)).Val(); got != "contacted" {
		t.Fatalf("Redis holds %q; the test needs the apply to have failed", got)
	}
	if got := get(t, ctx, s, k); got != "quoted" {
		t.Fatalf("next batch reads %s, want quoted replayed from the changelog", got)
	}
}

func BenchmarkStateTxn(b *testing.B) {
	ctx := context.Background()
	rdb, prefix := testenv.Redis(b)
	brokers := testenv.Kafka(b, 1, schemas.ChangelogTopic("bench"))
	s, err := NewState(Config{Brokers: brokers[0]}, "bench", rdb, prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	keys := make([]StateKey, 1000)
	for i := range keys {
		keys[i] = StateKey{0, fmt.Sprintf("p|lead-%d", i)}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx, err := s.Begin(ctx, []int32{0})
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.Prefetch(ctx, keys...); err != nil {
			b.Fatal(err)
		}
		for j, k := range keys {
			tx.Put(k, []byte("v"), time.Hour)
			_ = j
		}
		recs := tx.Records()
		for j, r := range recs {
			r.Offset = int64(i*len(keys) + j)
		}
		if err := tx.Commit(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/key")
}
