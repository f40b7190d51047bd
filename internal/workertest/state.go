// Package workertest runs stage processors the way the runtime does, for
// the stages' own tests: a stateful processor's batches go through a real
// worker.State (kfake changelog, real Redis), in Kafka transactions that
// commit or abort, so that a test can lose Redis between batches and see
// what a running worker would see.
package workertest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// State is a stage's state on a kfake changelog with Partitions partitions
// and the real Redis under Prefix.
type State struct {
	t      testing.TB
	Redis  *redis.Client
	Prefix string
	stage  string
	cfg    worker.Config
	prod   *kgo.Client
	st     *worker.State
}

// Partitions of the changelog; Messages of a test must use partitions below it.
const Partitions = 4

// NewState starts the harness for stage. Pass the Redis and prefix the
// processor under test uses (its StateBackend).
func NewState(t testing.TB, stage string, rdb *redis.Client, prefix string) *State {
	t.Helper()
	changelog := schemas.ChangelogTopic(stage)
	brokers := testenv.Kafka(t, Partitions, changelog)
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("workertest-"+testenv.RandomID()),
		kgo.RecordPartitioner(worker.ChangelogPartitioner(changelog)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	h := &State{t: t, Redis: rdb, Prefix: prefix, stage: stage, cfg: worker.Config{Brokers: brokers[0]}, prod: prod}
	h.Restart()
	return h
}

// Restart replaces the worker's State, as a restarted process (or a new
// owner of the partitions) would have it.
func (h *State) Restart() {
	h.t.Helper()
	st, err := worker.NewState(h.cfg, h.stage, h.Redis, h.Prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(st.Close)
	h.st = st
}

// Batch runs one batch through p as the runtime does and commits it.
func (h *State) Batch(ctx context.Context, p worker.Stateful, batch []worker.Message) ([]worker.Result, error) {
	return h.run(ctx, p, batch, true)
}

// Aborted runs one batch through p whose transaction then aborts (a
// rebalance, a broker restart): nothing of it may remain.
func (h *State) Aborted(ctx context.Context, p worker.Stateful, batch []worker.Message) ([]worker.Result, error) {
	return h.run(ctx, p, batch, false)
}

func (h *State) run(ctx context.Context, p worker.Stateful, batch []worker.Message, commit bool) ([]worker.Result, error) {
	h.t.Helper()
	parts := worker.PartitionsOf(batch)
	for _, p := range parts {
		if p < 0 || p >= Partitions {
			h.t.Fatalf("message partition %d outside 0..%d", p, Partitions-1)
		}
	}
	tx, err := h.st.Begin(ctx, parts)
	if err != nil {
		return nil, err
	}
	results, err := p.ProcessState(ctx, tx, batch)
	if err != nil {
		return nil, err
	}
	if err := h.prod.BeginTransaction(); err != nil {
		h.t.Fatal(err)
	}
	recs := tx.Records()
	if err := h.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		h.t.Fatal(err)
	}
	if err := h.prod.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		h.t.Fatal(err)
	}
	if commit {
		if err := tx.Commit(ctx, recs); err != nil {
			h.t.Fatal(err)
		}
	}
	return results, nil
}

// LoseRedis deletes every key under Prefix, as a Redis restarted without
// persistence would have lost them.
func (h *State) LoseRedis(ctx context.Context) {
	h.t.Helper()
	var keys []string
	iter := h.Redis.Scan(ctx, 0, h.Prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		h.t.Fatal(err)
	}
	if len(keys) > 0 {
		if err := h.Redis.Del(ctx, keys...).Err(); err != nil {
			h.t.Fatal(err)
		}
	}
}
