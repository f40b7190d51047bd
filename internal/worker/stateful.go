package worker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Stateful is a Processor whose decisions depend on state that must survive
// losing Redis (see State). The runtime gives each batch a StateTxn whose
// writes it produces to the stage's changelog inside the batch's
// transaction and applies to Redis after the commit; the processor reads
// and writes state only through it, keyed by the partition of the record
// that reads or writes.
type Stateful interface {
	Processor
	// StateBackend is the Redis that keeps the state's working copy, and
	// the prefix of its keys.
	StateBackend() (rdb redis.UniversalClient, keyPrefix string)
	// ProcessState is ProcessBatch with the batch's state.
	ProcessState(ctx context.Context, st *StateTxn, batch []Message) ([]Result, error)
}

// stateOf builds the State of a stateful stage and the client options it
// needs (changelog partitioning, forgetting revoked partitions); nil for a
// stateless one.
func stateOf(cfg Config, stage Stage, log *slog.Logger, reg prometheus.Registerer) (*State, []kgo.Opt, error) {
	sp, ok := stage.Processor.(Stateful)
	if !ok {
		return nil, nil, nil
	}
	rdb, prefix := sp.StateBackend()
	st, err := NewState(cfg, stage.Name, rdb, prefix, log)
	if err != nil {
		return nil, nil, err
	}
	if reg != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "reftrack_state_restores_total",
			Help:        "Changelog replays into Redis: after an assignment found Redis behind, or Redis lost state.",
			ConstLabels: prometheus.Labels{"stage": stage.Name},
		}, func() float64 { return float64(st.restores.Load()) }))
	}
	// Run's revoke hook calls st.Revoked: franz-go keeps one hook.
	return st, []kgo.Opt{kgo.RecordPartitioner(ChangelogPartitioner(st.Changelog()))}, nil
}

// processState runs a stateful processor on a batch: state checked (and
// restored) for the batch's partitions, the processor, then the changelog
// records to produce with the batch's outputs.
func processState(ctx context.Context, st *State, sp Stateful, msgs []Message) ([]Result, *StateTxn, []*kgo.Record, error) {
	tx, err := st.Begin(ctx, PartitionsOf(msgs))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("ready state: %w", err)
	}
	results, err := sp.ProcessState(ctx, tx, msgs)
	if err != nil {
		return nil, nil, nil, err
	}
	return results, tx, tx.Records(), nil
}

// PartitionsOf lists the partitions a batch's messages come from, in the
// order they first appear: the partitions whose state the batch may touch.
func PartitionsOf(batch []Message) []int32 {
	seen := map[int32]bool{}
	var parts []int32
	for _, m := range batch {
		if !seen[m.Partition] {
			seen[m.Partition] = true
			parts = append(parts, m.Partition)
		}
	}
	return parts
}
