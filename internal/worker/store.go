package worker

import (
	"context"
	"errors"
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

// Pinger is a Store whose readiness can be checked without writing
// (ClickHouse answers a ping): /readyz then says when it is down, and
// when it is back, without waiting for a batch.
type Pinger interface {
	PingName() string
	Ping(ctx context.Context) error
}

// Fencer is a Store that can say, in one round trip, where each partition
// already ends in the store. RunStore asks it right before every write and
// drops what is already there: a member that lost its partitions while
// stalled (a zombie past its session timeout) finds the new owner's
// progress and writes nothing stale. The check and the write are not
// atomic, so this narrows the window to the write itself; the store's
// idempotent keys (ReplacingMergeTree by id) remain the backstop.
type Fencer interface {
	NextOffsets(ctx context.Context, parts []Part) (map[string]map[int32]int64, error)
}

// fence drops from parts every record the store already holds.
func fence(ctx context.Context, f Fencer, parts []Part, m *metrics) ([]Part, error) {
	next, err := f.NextOffsets(ctx, parts)
	if err != nil {
		return nil, fmt.Errorf("read the store's offsets before writing: %w", err)
	}
	out := parts[:0]
	for _, p := range parts {
		n, ok := next[p.Topic][p.Partition]
		i := 0
		for ok && i < len(p.Msgs) && p.Msgs[i].Offset < n {
			i++
		}
		if i > 0 {
			m.fenced.WithLabelValues(p.Topic).Add(float64(i))
		}
		if i < len(p.Msgs) {
			p.Msgs = p.Msgs[i:]
			out = append(out, p)
		}
	}
	return out, nil
}

// Part is one partition's records of a poll, contiguous and in offset order.
type Part struct {
	Topic     string
	Partition int32
	Msgs      []Message
}

// StoreStage is what a store stage hands to RunStore.
type StoreStage struct {
	Name   string   // e.g. "sink"; used in the client ID and metrics
	Inputs []string // unprefixed topic names to consume
	Store  Store
	// Linger is how long a batch may wait for more records once its first
	// has arrived (see collect); 0 writes whatever each poll returns.
	Linger time.Duration
	// MaxRecords ends a batch before its linger (0: --batch-max). A poll
	// returns at most --batch-max records; a write gathers polls up to
	// this, since the store pays per write what a transaction does not.
	MaxRecords int
}

// RunStore consumes stage.Inputs with read_committed and writes them to
// stage.Store, committing offsets only after the write succeeded. On
// assignment it resumes from the store's NextOffset when that is ahead of
// the committed offset, so a crash between write and commit does not write
// twice.
func RunStore(ctx context.Context, cfg Config, stage StoreStage, log *slog.Logger, reg *prometheus.Registry, ready *Readiness) error {
	name, store := stage.Name, stage.Store
	full := make([]string, len(stage.Inputs))
	for i, t := range stage.Inputs {
		full[i] = cfg.Topic(t)
	}
	m := newMetrics(reg, name)
	forget := func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
		if ctx.Err() == nil { // leaving at shutdown: the last scrape may still read them
			m.forgetPartitions(lost)
		}
	}
	opts, err := commonOpts(cfg, name, log, reg, append(consumerOpts(cfg),
		kgo.OnPartitionsRevoked(forget),
		kgo.OnPartitionsLost(forget),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(full...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // see dataRecords
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
	)...)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("create kafka consumer: %w", err)
	}
	defer cl.CloseAllowingRebalance()
	if err := waitForBrokers(ctx, cl, cfg, log); err != nil {
		return err
	}
	ready.AddCheck("kafka", cl.Ping)
	if p, ok := store.(Pinger); ok {
		ready.AddCheck(p.PingName(), p.Ping)
	}
	ready.Set(true)
	maxRecords := stage.MaxRecords
	if maxRecords <= 0 {
		maxRecords = cfg.BatchMax
	}
	log.Info("store worker started", "inputs", full, "group", cfg.Group, "max_records", maxRecords, "linger", stage.Linger)

	for {
		recs, closed := collect(ctx, cl, cfg.BatchMax, maxRecords, stage.Linger, func(f kgo.Fetches) {
			f.EachError(func(topic string, p int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) { // the linger ending
					log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
				}
			})
			m.observeLag(f)
		})
		if closed {
			log.Info("store worker stopping")
			return nil
		}
		start := time.Now()
		parts := byPartition(recs)
		bctx, cancel := graceContext(ctx, cfg.ShutdownTimeout)
		var werr error
		if f, ok := store.(Fencer); ok && len(parts) > 0 {
			parts, werr = fence(bctx, f, parts, m)
		}
		if werr == nil && len(parts) > 0 {
			werr = writeRetrying(bctx, store, parts, log, ready)
		}
		if werr == nil {
			addByTopic(m.in, recs)
			if cerr := cl.CommitUncommittedOffsets(bctx); cerr != nil && ctx.Err() == nil {
				// The rows are stored and the store says where it left
				// off, so a refused commit (a rebalance this member
				// missed, a broker restarting) loses nothing: whoever
				// owns the partition next resumes from NextOffset.
				m.batches.WithLabelValues("commit_failed").Inc()
				log.Warn("offset commit failed after the write; the store's resume offset covers it", "err", cerr)
			}
		}
		cancel()
		cl.AllowRebalance()
		if werr != nil {
			if ctx.Err() != nil {
				return nil // the store's high-water mark makes the next owner skip what landed
			}
			return fmt.Errorf("store batch: %w", werr)
		}
		if len(recs) > 0 {
			m.batches.WithLabelValues("committed").Inc()
			m.batchSize.Observe(float64(len(recs)))
			m.batchTime.Observe(time.Since(start).Seconds())
		}
	}
}

// collect polls, at most poll records at a time, until it holds max records
// or linger has passed since the first one arrived. Every INSERT costs
// ClickHouse a part to write and later merge, so a store is better fed a few
// large writes than one per poll; linger bounds what that adds to latency.
// closed reports a shutdown. Rebalances stay blocked (BlockRebalanceOnPoll)
// until the caller allows them, so what collect returns is still owned when
// it is written.
func collect(ctx context.Context, cl *kgo.Client, poll, max int, linger time.Duration, seen func(kgo.Fetches)) (recs []*kgo.Record, closed bool) {
	var deadline time.Time
	for len(recs) < max {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if len(recs) > 0 {
			if linger <= 0 || !time.Now().Before(deadline) {
				break
			}
			pctx, cancel = context.WithDeadline(ctx, deadline)
		}
		fetches := cl.PollRecords(pctx, min(poll, max-len(recs)))
		cancel()
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return nil, true
		}
		seen(fetches)
		if len(recs) == 0 && fetches.NumRecords() > 0 {
			deadline = time.Now().Add(linger)
		}
		recs = append(recs, dataRecords(fetches.Records())...)
		if len(recs) == 0 {
			return nil, false // errors only; the caller polls again
		}
	}
	return recs, false
}

// byPartition groups records into one Part per partition, in the order the
// partitions first appear; records of one partition keep their order.
func byPartition(recs []*kgo.Record) []Part {
	var parts []Part
	index := map[string]map[int32]int{}
	for _, r := range recs {
		ps := index[r.Topic]
		if ps == nil {
			ps = map[int32]int{}
			index[r.Topic] = ps
		}
		i, ok := ps[r.Partition]
		if !ok {
			i = len(parts)
			ps[r.Partition] = i
			parts = append(parts, Part{Topic: r.Topic, Partition: r.Partition})
		}
		parts[i].Msgs = append(parts[i].Msgs, messageOf(r))
	}
	return parts
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
