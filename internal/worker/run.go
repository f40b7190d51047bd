package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/reftrack/reftrack/schemas"
)

// Stage is what a stage binary hands to Run.
type Stage struct {
	Name   string   // e.g. "validate"; used in transactional IDs, metrics and dead letters
	Inputs []string // unprefixed topic names to consume
	// InputPatterns are regular expressions (RE2) of more unprefixed topic
	// names to consume, each matched against the whole name: a family of
	// topics whose members come and go (one per partner). Topics created
	// later are picked up at a metadata refresh.
	InputPatterns []string
	// Outputs are the unprefixed topics the Processor may write (dead
	// letters aside). A record for another topic stops Run: it is a bug in
	// the stage, and nothing downstream reads it. Empty: not checked.
	Outputs   []string
	Processor Processor // the stage's logic
}

// Run consumes stage.Inputs and stage.InputPatterns and runs stage.Processor
// in Kafka transactions until ctx is done. It returns nil on a clean shutdown
// and an error only when the worker cannot go on (bad config, fenced by
// another instance, broker gone past all retries); the caller exits and the
// supervisor restarts it.
func Run(ctx context.Context, cfg Config, stage Stage, log *slog.Logger, reg *prometheus.Registry, ready *Readiness) error {
	subscribe, inputs, err := subscription(cfg.TopicPrefix, stage.Inputs, stage.InputPatterns)
	if err != nil {
		return err
	}
	state, stateOpts, err := stateOf(cfg, stage, log, reg)
	if err != nil {
		return err
	}
	if state != nil {
		defer state.Close()
	}
	m := newMetrics(reg, stage.Name)
	forget := func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
		if state != nil {
			for _, parts := range lost {
				state.Revoked(parts)
			}
		}
		if ctx.Err() == nil { // leaving at shutdown: the last scrape may still read them
			m.forgetPartitions(lost)
		}
	}
	opts, err := commonOpts(cfg, stage.Name, log, reg, append(append(append(subscribe, stateOpts...), consumerOpts(cfg)...),
		kgo.OnPartitionsRevoked(forget),
		kgo.OnPartitionsLost(forget),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), // a new group must not skip records
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // see dataRecords
		kgo.TransactionalID(fmt.Sprintf("reftrack-%s-%s", stage.Name, cfg.Instance)),
		kgo.TransactionTimeout(max(cfg.ShutdownTimeout*2, 30*time.Second)),
	)...)
	if err != nil {
		return err
	}
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("create kafka transact session: %w", err)
	}
	defer sess.CloseAllowingRebalance()

	if err := waitForBrokers(ctx, sess.Client(), cfg, log); err != nil {
		return err
	}
	ready.AddCheck("kafka", sess.Client().Ping)
	if state != nil {
		ready.AddCheck("redis", func(ctx context.Context) error { return state.rdb.Ping(ctx).Err() })
	}
	ready.Set(true)
	log.Info("worker started", "inputs", inputs, "group", cfg.Group)

	w := &txnWorker{cfg: cfg, stage: stage, log: log, m: m, sess: sess, ready: ready, state: state}
	for {
		fetches := sess.PollRecords(ctx, cfg.BatchMax)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			log.Info("worker stopping")
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
		})
		w.m.observeLag(fetches)
		recs := dataRecords(fetches.Records())
		if len(recs) == 0 {
			continue
		}
		if err := w.batch(ctx, recs); err != nil {
			return err
		}
	}
}

type txnWorker struct {
	cfg      Config
	stage    Stage
	log      *slog.Logger
	m        *metrics
	sess     *kgo.GroupTransactSession
	ready    *Readiness
	state    *State // nil for a stateless stage
	failures int    // consecutive aborted batches, for backoff
}

// batch runs one transaction. Shutdown does not cancel the batch in flight at
// once: it gets ShutdownTimeout to finish and commit, so a deploy does not
// throw away work; past that the transaction aborts and is redone elsewhere.
func (w *txnWorker) batch(ctx context.Context, recs []*kgo.Record) error {
	start := time.Now()
	bctx, cancel := graceContext(ctx, w.cfg.ShutdownTimeout)
	defer cancel()

	if err := w.sess.Begin(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	outs, dead, tx, err := w.process(bctx, recs)
	if err == nil {
		if perr := w.sess.ProduceSync(bctx, outs...).FirstErr(); perr != nil {
			err = fmt.Errorf("produce %d records: %w", len(outs), perr)
		}
	}
	committed, endErr := w.sess.End(bctx, kgo.TransactionEndTry(err == nil))
	w.m.batchTime.Observe(time.Since(start).Seconds())
	if endErr != nil {
		w.m.batches.WithLabelValues("failed").Inc()
		w.ready.Set(false)
		if ctx.Err() != nil {
			return nil // shutting down; the aborted batch is redone by whoever takes over
		}
		return fmt.Errorf("end transaction: %w", endErr)
	}
	if errors.Is(err, errUndeclaredOutput) {
		return err // aborted above; a retry would write the same
	}
	if !committed {
		// The session rewound to the last committed offsets, so the next poll
		// returns these records again.
		w.m.batches.WithLabelValues("aborted").Inc()
		w.failures++
		if err != nil {
			w.ready.Set(false)
			w.log.Warn("batch aborted, will retry", "records", len(recs), "attempt", w.failures, "err", err)
			sleepCtx(ctx, backoff(w.failures))
		} else {
			w.log.Info("batch aborted by a rebalance, will retry", "records", len(recs))
		}
		return nil
	}
	if tx != nil {
		// After the commit, never before: an aborted batch must leave
		// Redis as its redo will find it. A failure here loses nothing;
		// the next batch replays the changelog.
		if err := tx.Commit(bctx, outs); err != nil {
			w.log.Warn("state not applied to redis after commit; the next batch restores it from the changelog", "err", err)
		}
	}
	w.failures = 0
	w.ready.Set(true)
	w.m.batches.WithLabelValues("committed").Inc()
	w.m.batchSize.Observe(float64(len(recs)))
	addByTopic(w.m.in, recs)
	addByTopic(w.m.out, outs)
	for _, code := range dead {
		w.m.deadLetters.WithLabelValues(code).Inc()
	}
	return nil
}

// process runs the stage and turns its results into records to produce,
// with the changelog records of a stateful stage's state writes (tx).
// dead holds the first reason code of each dead letter, for metrics.
func (w *txnWorker) process(ctx context.Context, recs []*kgo.Record) (outs []*kgo.Record, dead []string, tx *StateTxn, err error) {
	msgs := make([]Message, len(recs))
	for i, r := range recs {
		msgs[i] = messageOf(r)
		msgs[i].BareTopic = strings.TrimPrefix(r.Topic, w.cfg.TopicPrefix)
	}
	var results []Result
	var changelog []*kgo.Record
	if sp, ok := w.stage.Processor.(Stateful); ok && w.state != nil {
		results, tx, changelog, err = processState(ctx, w.state, sp, msgs)
	} else {
		results, err = w.stage.Processor.ProcessBatch(ctx, msgs)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("process batch of %d: %w", len(msgs), err)
	}
	if len(results) != len(msgs) {
		return nil, nil, nil, fmt.Errorf("processor returned %d results for %d records", len(results), len(msgs))
	}
	for i := range results {
		if results[i].Err == nil {
			results[i].Err = w.tooLarge(results[i].Out)
		}
		if err := results[i].Err; err != nil && !IsPermanent(err) {
			return nil, nil, nil, fmt.Errorf("record %s/%d@%d: %w", msgs[i].Topic, msgs[i].Partition, msgs[i].Offset, err)
		}
	}
	originals, err := w.originals(ctx, msgs, results)
	if err != nil {
		return nil, nil, nil, err
	}
	for i, res := range results {
		if res.Err != nil {
			dl, code, err := w.deadLetter(msgs[i], originals[i], res.Err)
			if err != nil {
				return nil, nil, nil, err
			}
			outs = append(outs, dl)
			dead = append(dead, code)
			continue
		}
		for _, o := range res.Out {
			if err := w.declared(o.Topic); err != nil {
				return nil, nil, nil, err
			}
			outs = append(outs, &kgo.Record{Topic: w.cfg.Topic(o.Topic), Key: o.Key, Value: o.Value})
		}
	}
	return append(outs, changelog...), dead, tx, nil
}

// errUndeclaredOutput stops Run: retrying would write the same stray record.
var errUndeclaredOutput = errors.New("not among its outputs")

// declared checks an output's topic against the stage's declared Outputs.
func (w *txnWorker) declared(topic string) error {
	if len(w.stage.Outputs) == 0 || slices.Contains(w.stage.Outputs, topic) {
		return nil
	}
	return fmt.Errorf("stage %s wrote to %s, %w %q", w.stage.Name, topic, errUndeclaredOutput, w.stage.Outputs)
}

// CodeTooLarge dead-letters a record whose output would be larger than
// --max-record-bytes.
const CodeTooLarge = "too_large"

// MaxDeadLetterOriginal is how much of an original a dead letter keeps when
// the whole would not fit in a record: enough to see what it was.
const MaxDeadLetterOriginal = 64 << 10

// tooLarge refuses outputs that the producer or the broker would refuse:
// such a produce fails on every retry, and the partition behind it stalls.
func (w *txnWorker) tooLarge(outs []Output) error {
	limit := w.cfg.maxRecordBytes()
	for _, o := range outs {
		if n := len(o.Key) + len(o.Value); n > limit {
			return Reject(CodeTooLarge, "", "the %s record this produces is %d bytes, over the %d-byte limit (--max-record-bytes)", o.Topic, n, limit)
		}
	}
	return nil
}

// originals is what each dead letter of the batch keeps of its record: the
// record itself, unless the processor is an OriginalKeeper, which is asked
// once for all of them.
func (w *txnWorker) originals(ctx context.Context, msgs []Message, results []Result) ([]Original, error) {
	out := make([]Original, len(msgs))
	var dead []Message
	var at []int
	for i, m := range msgs {
		out[i] = Original{Key: m.Key, Value: m.Value}
		if results[i].Err != nil {
			dead, at = append(dead, m), append(at, i)
		}
	}
	keeper, ok := w.stage.Processor.(OriginalKeeper)
	if !ok || len(dead) == 0 {
		return out, nil
	}
	kept, err := keeper.DeadLetterOriginals(ctx, dead)
	if err != nil {
		return nil, fmt.Errorf("what to keep of %d dead letters: %w", len(dead), err)
	}
	if len(kept) != len(dead) {
		return nil, fmt.Errorf("processor kept %d originals of %d dead letters", len(kept), len(dead))
	}
	for j, i := range at {
		out[i] = kept[j]
	}
	return out, nil
}

func (w *txnWorker) deadLetter(m Message, orig Original, cause error) (*kgo.Record, string, error) {
	now := time.Now().UTC()
	rej := schemas.Rejection{
		Stage:           w.stage.Name,
		Reasons:         reasons(cause),
		SourceTopic:     m.Topic,
		SourcePartition: m.Partition,
		SourceOffset:    m.Offset,
		Key:             orig.Key,
		Original:        orig.Value,
		FailedAt:        now,
	}
	if orig.Withheld {
		// What identifies the record, so that the partner can be asked
		// for it; a re-drive needs the partner to resend.
		sum := sha256.Sum256(m.Value)
		rej.Original = nil
		rej.OriginalSize, rej.OriginalSHA256, rej.OriginalTruncated = int64(len(m.Value)), hex.EncodeToString(sum[:]), true
	}
	v, err := json.Marshal(rej)
	if err == nil && len(v)+len(rej.Key) > w.cfg.maxRecordBytes() {
		// The dead letter must fit where the record did not: keep a
		// prefix, and what identifies the whole.
		if !orig.Withheld {
			sum := sha256.Sum256(rej.Original)
			rej.OriginalSize, rej.OriginalSHA256, rej.OriginalTruncated = int64(len(rej.Original)), hex.EncodeToString(sum[:]), true
			rej.Original = rej.Original[:min(len(rej.Original), MaxDeadLetterOriginal)]
		}
		rej.Key = rej.Key[:min(len(rej.Key), 1024)]
		v, err = json.Marshal(rej)
	}
	if err != nil {
		return nil, "", fmt.Errorf("encode dead letter: %w", err)
	}
	errText := cause.Error()
	if len(errText) > 1024 {
		errText = errText[:1024]
	}
	return &kgo.Record{
		Topic: w.cfg.Topic(schemas.TopicRejected),
		Key:   rej.Key,
		Value: v,
		Headers: []kgo.RecordHeader{
			{Key: "error", Value: []byte(errText)},
			{Key: "stage", Value: []byte(w.stage.Name)},
			{Key: "source_topic", Value: []byte(m.Topic)},
			{Key: "source_partition", Value: []byte(strconv.Itoa(int(m.Partition)))},
			{Key: "source_offset", Value: []byte(strconv.FormatInt(m.Offset, 10))},
			{Key: "failed_at", Value: []byte(now.Format(time.RFC3339Nano))},
		},
	}, rej.Reasons[0].Code, nil
}

// subscription is the consume options for topic names and patterns under
// prefix, and what they subscribe to, for the log. Without patterns, names are
// consumed as names. With them, franz-go's regex mode applies to every
// topic, so names become quoted regexes too; every regex is anchored and
// grouped so that a pattern matches only whole names under the prefix (an
// alternation "a|b" must not match "x.b"), and the prefix is quoted (its "."
// must not match any character).
func subscription(prefix string, names, patterns []string) ([]kgo.Opt, []string, error) {
	if len(patterns) == 0 {
		full := make([]string, len(names))
		for i, n := range names {
			full[i] = prefix + n
		}
		return []kgo.Opt{kgo.ConsumeTopics(full...)}, full, nil
	}
	res := make([]string, 0, len(names)+len(patterns))
	for _, n := range names {
		res = append(res, "^"+regexp.QuoteMeta(prefix+n)+"$")
	}
	for _, p := range patterns {
		if _, err := regexp.Compile(p); err != nil {
			return nil, nil, fmt.Errorf("compile input pattern %q: %w", p, err)
		}
		res = append(res, "^"+regexp.QuoteMeta(prefix)+"(?:"+p+")$")
	}
	// A pattern's new topics are found by a metadata refresh: refresh every
	// minute rather than franz-go's five, so a new partner's first records
	// do not wait long.
	return []kgo.Opt{kgo.ConsumeTopics(res...), kgo.ConsumeRegex(), kgo.MetadataMaxAge(time.Minute)}, res, nil
}

// commonOpts are the client options every reftrack Kafka client shares.
func commonOpts(cfg Config, stage string, log *slog.Logger, reg prometheus.Registerer, more ...kgo.Opt) ([]kgo.Opt, error) {
	sec, err := cfg.Security.Opts()
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.BrokerList()...),
		kgo.ClientID("reftrack-" + stage),
		kgo.WithLogger(kslog.New(log.With("component", "kafka"))),
		kgo.WithHooks(kprom.NewMetrics("reftrack_kafka", kprom.Registerer(reg), kprom.WithStaticLabel(prometheus.Labels{"stage": stage}))),
		kgo.ProducerBatchCompression(kgo.Lz4Compression(), kgo.NoCompression()),
		// Room for the largest record a stage lets through (tooLarge) plus
		// the batch header; the check, not the client, refuses what is over.
		kgo.ProducerBatchMaxBytes(int32(cfg.maxRecordBytes() + 16<<10)),
	}
	if cfg.FetchMaxBytes > 0 {
		// franz-go's default (50 MiB of lz4 JSON, several times that once
		// decompressed) let a lagging sink pass 200 MB of RSS.
		opts = append(opts, kgo.FetchMaxBytes(int32(cfg.FetchMaxBytes)))
	}
	return append(append(opts, sec...), more...), nil
}

// consumerOpts are the fetch options of the stages' consumers. Each poll
// costs a stateful stage a transaction and Redis round trips whatever it
// holds, so at a low rate the broker is asked to gather a batch first.
func consumerOpts(cfg Config) []kgo.Opt {
	var opts []kgo.Opt
	if cfg.FetchMinBytes > 0 {
		opts = append(opts, kgo.FetchMinBytes(int32(cfg.FetchMinBytes)))
	}
	if cfg.FetchMaxWait > 0 {
		opts = append(opts, kgo.FetchMaxWait(cfg.FetchMaxWait))
	}
	return opts
}

// NewProducer returns a plain idempotent producer for stages that accept
// records from outside Kafka (ingest's HTTP API).
func NewProducer(cfg Config, stage string, log *slog.Logger, reg prometheus.Registerer) (*kgo.Client, error) {
	opts, err := commonOpts(cfg, stage+"-http", log, reg,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(2*time.Millisecond),
	)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("create kafka producer: %w", err)
	}
	return cl, nil
}

// graceContext returns a context that stays alive for grace after parent is
// done, so work in flight can finish during a shutdown.
func graceContext(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	stop := context.AfterFunc(parent, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-ctx.Done():
		}
	})
	return ctx, func() { stop(); cancel() }
}

// backoff is exponential from 100 ms to 30 s with full jitter, so many
// workers retrying one dependency do not hammer it in lockstep.
func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt-1, 9)
	d = min(d, 30*time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// addByTopic counts records per topic before touching the counter: a label
// lookup per record was a measurable part of a cheap stage's batch.
func addByTopic(c *prometheus.CounterVec, recs []*kgo.Record) {
	var topic string
	n := 0
	for _, r := range recs {
		if r.Topic != topic {
			if n > 0 {
				c.WithLabelValues(topic).Add(float64(n))
			}
			topic, n = r.Topic, 0
		}
		n++
	}
	if n > 0 {
		c.WithLabelValues(topic).Add(float64(n))
	}
}

// forgetPartitions drops the gauges of partitions this worker no longer
// owns: a gauge is only set by a fetch, so one left behind would report its
// last lag forever, beside the new owner's, to an autoscaler that sums them.
func (m *metrics) forgetPartitions(lost map[string][]int32) {
	for topic, parts := range lost {
		for _, p := range parts {
			part := strconv.Itoa(int(p))
			m.lag.DeleteLabelValues(topic, part)
			m.end.DeleteLabelValues(topic, part)
		}
	}
}

// dataRecords drops transaction markers. The clients keep them
// (kgo.KeepControlRecords) only so that the consumer's position and the lag
// gauge move past them: every topic between stages is written in
// transactions, so a drained partition ends with a commit marker, and a lag
// of 1 there would keep an autoscaler from ever scaling the stage to zero.
func dataRecords(recs []*kgo.Record) []*kgo.Record {
	out := recs[:0]
	for _, r := range recs {
		if !r.Attrs.IsControl() {
			out = append(out, r)
		}
	}
	return out
}

// waitForBrokers pings until the brokers answer or ctx ends: a worker
// started before its brokers (or during their restart) waits, not crashes,
// like an orchestrated process should; /readyz says not ready meanwhile.
func waitForBrokers(ctx context.Context, cl *kgo.Client, cfg Config, log *slog.Logger) error {
	for attempt := 1; ; attempt++ {
		err := cl.Ping(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			// Never reached them: say so, whether this is a shutdown or a
			// deadline (bad credentials look like a closed connection).
			return fmt.Errorf("reach kafka brokers %s: %w", cfg.Brokers, err)
		}
		if ke := (*kerr.Error)(nil); errors.As(err, &ke) && !ke.Retriable {
			// Refused, not unreachable (bad SASL credentials, no ACL):
			// waiting will not fix it.
			return fmt.Errorf("reach kafka brokers %s: %w", cfg.Brokers, err)
		}
		log.Warn("kafka brokers unreachable, will retry", "brokers", cfg.Brokers, "attempt", attempt, "err", err)
		sleepCtx(ctx, backoff(attempt))
	}
}
