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

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// periodClose is what the flags ask for.
type periodClose struct {
	period, partner, actor, id string
	all                        bool
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
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if r.id == "" {
		r.id = uuid.NewString()
	}
	if err := r.check(); err != nil {
		return err
	}
	cl, err := pl.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	topic := pl.prefix + schemas.TopicAttributions
	parts, err := partitions(ctx, cl, topic)
	if err != nil {
		return err
	}
	recs, err := r.records(topic, parts, time.Now())
	if err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce period close %s to %s: %w", r.id, topic, err)
	}
	fmt.Printf("period %s closed for %s: request %s sent to %d partitions of %s\n", r.period, r.partnerID(), r.id, len(parts), topic)
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
