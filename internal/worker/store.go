package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Store is an external system that records land in (ClickHouse). It cannot
// join a Kafka transaction, so exactly-once comes from the store itself:
// every stored row remembers its topic/partition/offset, each Part handed to
// Write is one contiguous offset range of one partition, and NextOffset
// reads back where the store left off.
type Store interface {
	// Write durably stores everything one poll returned. It gets the whole
	// poll at once so that a store can write each of its tables in one go
	// (one ClickHouse INSERT per table instead of one per table and
	// partition: fewer round trips while records wait, fewer parts to
	// merge). An error means any subset may have been stored; the runtime
	// retries the same parts, and the store must tolerate the replay.
	Write(ctx context.Context, parts []Part) error
	// NextOffset is one past the highest offset stored for the partition,
	// or -1 if the store holds nothing of it.
	NextOffset(ctx context.Context, topic string, partition int32) (int64, error)
}

// Part is one partition's records of a poll, contiguous and in offset order.
type Part struct {
	Topic     string
	Partition int32
	Msgs      []Message
}

// RunStore consumes topics (unprefixed) with read_committed and writes them to
// store, committing offsets only after the write succeeded. On assignment it
// resumes from the store's NextOffset when that is ahead of the committed
// offset, so a crash between write and commit does not write twice.
func RunStore(ctx context.Context, cfg Config, name string, topics []string, store Store, log *slog.Logger, reg *prometheus.Registry, ready *Readiness) error {
	full := make([]string, len(topics))
	for i, t := range topics {
		full[i] = cfg.Topic(t)
	}
	opts, err := commonOpts(cfg, name, log, reg,
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(full...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.AdjustFetchOffsetsFn(func(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
			for topic, parts := range offsets {
				for p, off := range parts {
					next, err := store.NextOffset(ctx, topic, p)
					if err != nil {
						return nil, fmt.Errorf("read resume offset of %s/%d: %w", topic, p, err)
					}
					if next >= 0 && next > off.EpochOffset().Offset {
						log.Info("resuming from store offset", "topic", topic, "partition", p, "offset", next, "committed", off.EpochOffset().Offset)
						parts[p] = kgo.NewOffset().At(next)
					}
				}
			}
			return offsets, nil
		}),
	)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("create kafka consumer: %w", err)
	}
	defer cl.CloseAllowingRebalance()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("reach kafka brokers %s: %w", cfg.Brokers, err)
	}
	ready.Set(true)
	log.Info("store worker started", "inputs", full, "group", cfg.Group)

	m := newMetrics(reg, name)
	for {
		fetches := cl.PollRecords(ctx, cfg.BatchMax)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			log.Info("store worker stopping")
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
		})
		m.observeLag(fetches)
		start := time.Now()
		bctx, cancel := graceContext(ctx, cfg.ShutdownTimeout)
		var parts []Part
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			msgs := make([]Message, len(p.Records))
			for i, r := range p.Records {
				msgs[i] = Message{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
			}
			parts = append(parts, Part{Topic: p.Topic, Partition: p.Partition, Msgs: msgs})
		})
		var werr error
		if len(parts) > 0 {
			werr = writeRetrying(bctx, store, parts, log, ready)
		}
		if werr == nil {
			for _, p := range parts {
				m.in.WithLabelValues(p.Topic).Add(float64(len(p.Msgs)))
			}
			werr = cl.CommitUncommittedOffsets(bctx)
		}
		cancel()
		cl.AllowRebalance()
		if werr != nil {
			if ctx.Err() != nil {
				return nil // the store's high-water mark makes the next owner skip what landed
			}
			return fmt.Errorf("store batch: %w", werr)
		}
		if n := fetches.NumRecords(); n > 0 {
			m.batches.WithLabelValues("committed").Inc()
			m.batchSize.Observe(float64(n))
			m.batchTime.Observe(time.Since(start).Seconds())
		}
	}
}

// writeRetrying retries a failed write with backoff until it succeeds or ctx
// ends: a store outage pauses the sink, it never skips records.
func writeRetrying(ctx context.Context, store Store, parts []Part, log *slog.Logger, ready *Readiness) error {
	n := 0
	for _, p := range parts {
		n += len(p.Msgs)
	}
	for attempt := 1; ; attempt++ {
		err := store.Write(ctx, parts)
		if err == nil {
			ready.Set(true)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("write %d records of %d partitions: %w", n, len(parts), err)
		}
		ready.Set(false)
		log.Warn("store write failed, will retry", "partitions", len(parts), "first_topic", parts[0].Topic,
			"first_partition", parts[0].Partition, "first_offset", parts[0].Msgs[0].Offset, "records", n, "attempt", attempt, "err", err)
		sleepCtx(ctx, backoff(attempt))
	}
}
