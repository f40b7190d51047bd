package ops

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/commission/audit"
	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// decision is what the flags ask for.
type decision struct {
	entry, reason, actor, id string
	approve, decline         bool
}

// Decide approves or declines one accrual of the commission journal: it
// reads the accrual from ClickHouse (for its partner, lead and
// attribution), then produces a commission.decision_requested to the
// attributions topic keyed by the accrual's lead, so the stage reads it in
// the partition holding the policy's state. The stage posts a decision
// entry (amount 0, correcting the accrual, with actor and reason) and, for
// a decline, the reversal of what stands of the accrual; a decision on a
// direct accrual covers the overrides on it. An approval (--release) ends
// a hold, a named one (a hold rule's) included. Sending the same
// --request-id again posts nothing more, so a retry is safe.
//
//	decide --clickhouse DSN --brokers … --entry ID (--approve | --release | --decline) --reason R --actor A [--request-id ID]
func Decide(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("decide", flag.ContinueOnError)
	var pl pipeline
	pl.register(fs)
	dsn := fs.String("clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN of the sink's database (to find the accrual)")
	var d decision
	fs.StringVar(&d.entry, "entry", "", "entry id of the accrual decided")
	fs.BoolVar(&d.approve, "approve", false, "approve the accrual (ends its hold)")
	fs.BoolVar(&d.approve, "release", false, "release an accrual a hold rule holds: the same as --approve")
	fs.BoolVar(&d.decline, "decline", false, "decline the accrual (reverses what stands of it)")
	fs.StringVar(&d.reason, "reason", "", "why (kept on the entry)")
	fs.StringVar(&d.actor, "actor", "", "who decides (kept on the entry)")
	fs.StringVar(&d.id, "request-id", "", "id of the request (default: a new UUID, printed); reuse it to retry")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if d.id == "" {
		d.id = uuid.NewString()
	}
	if err := d.check(); err != nil {
		return err
	}
	conn, err := cli.OpenClickHouse(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	accrual, err := audit.ReadEntry(ctx, conn, d.entry)
	if err != nil {
		return fmt.Errorf("find the accrual to decide: %w", err)
	}
	rec, err := d.record(pl.prefix, accrual, time.Now())
	if err != nil {
		return err
	}
	if err := pl.send(ctx, "decision request "+d.id, rec); err != nil {
		return err
	}
	fmt.Printf("decision request %s (%s of %s) sent to %s\n", d.id, d.verb(), d.entry, rec.Topic)
	return nil
}

// check reports every problem with the flags at once.
func (d decision) check() error {
	var errs []error
	for name, v := range map[string]string{"--entry": d.entry, "--reason": d.reason, "--actor": d.actor} {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
	}
	if d.approve == d.decline {
		errs = append(errs, errors.New("exactly one of --approve and --decline is required"))
	}
	return errors.Join(errs...)
}

func (d decision) verb() string {
	if d.decline {
		return schemas.DecisionDecline
	}
	return schemas.DecisionApprove
}

// record is the request as the Kafka record the stage reads, keyed by the
// accrual's lead: a decline changes the policy's state, which lives in that
// lead's partition.
func (d decision) record(prefix string, accrual schemas.JournalEntry, now time.Time) (*kgo.Record, error) {
	if accrual.Kind != schemas.EntryAccrual {
		return nil, fmt.Errorf("entry %s is a %s: only an accrual is approved or declined", accrual.EntryID, accrual.Kind)
	}
	p, err := schemas.Encode(schemas.DecisionRequested{RequestID: d.id, EntryID: accrual.EntryID, AttributionID: accrual.AttributionID,
		Decision: d.verb(), Actor: d.actor, Reason: d.reason})
	if err != nil {
		return nil, fmt.Errorf("encode decision request: %w", err)
	}
	at := now.UTC()
	v, err := schemas.Encode(schemas.Envelope{EventID: d.id, EventType: schemas.TypeDecisionRequested, SchemaVersion: 1,
		OccurredAt: at, ReceivedAt: &at, PartnerID: accrual.PartnerID, LeadID: accrual.LeadID, Payload: p})
	if err != nil {
		return nil, fmt.Errorf("encode decision request: %w", err)
	}
	return &kgo.Record{Topic: prefix + schemas.TopicAttributions, Key: schemas.LeadKey(accrual.PartnerID, accrual.LeadID), Value: v}, nil
}
