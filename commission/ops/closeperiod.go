package ops

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// periodClose is what the flags ask for.
type periodClose struct {
	period, partner, actor, id string
	all                        bool
	dsn, group                 string
	wait                       time.Duration
}

// ClosePeriod is the close-period command: it closes an accounting period of
// one partner (--partner) or of every partner (--all) in the commission
// stage: it produces a commission.period_closed request to every partition
// of the attributions topic, each on an explicit partition, because each
// partition's stage state records its own closes (the records of one lead
// stay in one partition, in order, so a close takes effect at one offset per
// partition, the same on every replay). From there on, an entry whose period
// is closed posts in the first open period after it, so a closed period
// never changes. Closing a closed period again changes nothing, so a retry
// is safe.
//
// Then, unless --wait is 0, it confirms the close (closeWait): the stage
// read past it and the sink wrote every entry posted before it, and records
// it as done in commission_period_closes_done, which statements requires
// before it delivers the period. Not confirmed within --wait, it fails and
// the period is not counted closed; run it again with the same request id.
func ClosePeriod(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("close-period", flag.ContinueOnError)
	var pl pipeline
	pl.register(fs)
	var r periodClose
	fs.StringVar(&r.period, "period", "", "accounting period to close, YYYY-MM")
	fs.StringVar(&r.partner, "partner", "", "partner (tenant) whose period closes")
	fs.BoolVar(&r.all, "all", false, "close the period for every partner")
	fs.StringVar(&r.actor, "actor", "", "who closes (kept with the close)")
	fs.StringVar(&r.id, "request-id", "", "id of the request (default: a new UUID, printed)")
	fs.StringVar(&r.dsn, "clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN of the sink's database (to confirm the close)")
	fs.StringVar(&r.group, "commission-group", "reftrack-commission", "consumer group of the commission stage")
	fs.DurationVar(&r.wait, "wait", 5*time.Minute, "how long to wait for the stage and the sink to confirm the close (0: send only, not counted closed)")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if r.id == "" {
		r.id = uuid.NewString()
	}
	if err := r.check(); err != nil {
		return err
	}
	cl, err := pl.client(ctx, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	closes, err := r.send(ctx, cl, pl.prefix+schemas.TopicAttributions)
	if err != nil || r.wait == 0 {
		return err
	}
	return r.confirm(ctx, cl, pl, closes)
}

// send produces the close to every partition of topic and returns the
// offset of each record.
func (r periodClose) send(ctx context.Context, cl *kgo.Client, topic string) (map[string]map[int32]int64, error) {
	parts, err := partitions(ctx, cl, topic)
	if err != nil {
		return nil, err
	}
	recs, err := r.records(topic, parts, time.Now())
	if err != nil {
		return nil, err
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return nil, fmt.Errorf("produce period close %s to %s: %w", r.id, topic, err)
	}
	at := map[string]map[int32]int64{topic: {}}
	for _, rec := range recs {
		at[topic][rec.Partition] = rec.Offset
	}
	fmt.Printf("period %s closed for %s: request %s sent to %d partitions of %s\n", r.period, r.partnerID(), r.id, len(parts), topic)
	return at, nil
}

// confirm waits for the stage and then the sink (see closeWait) and
// records the close as done.
func (r periodClose) confirm(ctx context.Context, cl *kgo.Client, pl pipeline, closes map[string]map[int32]int64) error {
	conn, err := cli.OpenClickHouse(ctx, r.dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	w := closeWait{adm: kadm.NewClient(cl), conn: conn, kafka: pl.kafka, group: r.group,
		commissions: pl.prefix + schemas.TopicCommissions, poll: 500 * time.Millisecond}
	deadline := time.Now().Add(r.wait)
	if err := w.await(ctx, r.wait, "period close "+r.id+" read by the commission stage", w.stagePast(closes)); err != nil {
		return err
	}
	ends, err := w.journalEnds(ctx)
	if err != nil {
		return err
	}
	if err := w.await(ctx, time.Until(deadline), "entries before period close "+r.id+" written to ClickHouse", w.sinkAt(ends)); err != nil {
		return err
	}
	period, _ := time.Parse("2006-01", r.period) // checked
	if err := recordDone(ctx, conn, r, period, time.Now()); err != nil {
		return err
	}
	fmt.Printf("period %s close confirmed: every entry posted before it is in ClickHouse\n", r.period)
	return nil
}

// check reports every problem with the flags at once.
func (r periodClose) check() error {
	var errs []error
	if _, err := time.Parse("2006-01", r.period); err != nil {
		errs = append(errs, fmt.Errorf("--period %q: want YYYY-MM", r.period))
	}
	if (r.partner == "") == !r.all {
		errs = append(errs, errors.New("exactly one of --partner and --all is required"))
	}
	if r.partner == schemas.AllPartners {
		errs = append(errs, fmt.Errorf("--partner %q: use --all", r.partner))
	}
	if strings.TrimSpace(r.actor) == "" {
		errs = append(errs, errors.New("--actor is required"))
	}
	if r.wait < 0 {
		errs = append(errs, fmt.Errorf("--wait %s: must not be negative", r.wait))
	}
	return errors.Join(errs...)
}

func (r periodClose) partnerID() string {
	if r.all {
		return schemas.AllPartners
	}
	return r.partner
}

// partitions lists the topic's partitions: the close must reach each.
func partitions(ctx context.Context, cl *kgo.Client, topic string) ([]int32, error) {
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", topic, err)
	}
	d, ok := td[topic]
	if !ok || d.Err != nil {
		return nil, fmt.Errorf("list partitions of %s: %v", topic, d.Err)
	}
	parts := d.Partitions.Numbers()
	if len(parts) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions", topic)
	}
	slices.Sort(parts)
	return parts, nil
}

// records are the request, one record per partition, each naming its
// partition (the client's partitioner is manual).
func (r periodClose) records(topic string, parts []int32, now time.Time) ([]*kgo.Record, error) {
	p, err := schemas.Encode(schemas.PeriodClosed{Period: r.period, RequestID: r.id, Actor: r.actor, Partitions: int32(len(parts))})
	if err != nil {
		return nil, fmt.Errorf("encode period close: %w", err)
	}
	partner, lead := r.partnerID(), "period_close:"+r.period
	at := now.UTC()
	v, err := schemas.Encode(schemas.Envelope{EventID: r.id, EventType: schemas.TypePeriodClosed, SchemaVersion: 1,
		OccurredAt: at, ReceivedAt: &at, PartnerID: partner, LeadID: lead, Payload: p})
	if err != nil {
		return nil, fmt.Errorf("encode period close: %w", err)
	}
	recs := make([]*kgo.Record, len(parts))
	for i, part := range parts {
		recs[i] = &kgo.Record{Topic: topic, Partition: part, Key: schemas.LeadKey(partner, lead), Value: v}
	}
	return recs, nil
}
