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

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/money"
)

// adjustment is what the flags ask for.
type adjustment struct {
	partner, payee, currency, amount, reason, actor, id, policy string
}

// Adjust is the adjust command: it asks the commission stage for a manual
// adjustment of one payee's balance: it produces a
// commission.adjustment_requested to the attributions topic, keyed like a
// lead (the partner's "adjustment:<request id>"), and the stage posts it as
// one adjustment entry in the journal, in the accounting period of the
// request. Sending the same --request-id again posts nothing more, so a
// retry after an unclear failure is safe.
func Adjust(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("adjust", flag.ContinueOnError)
	var pl pipeline
	pl.register(fs)
	var r adjustment
	fs.StringVar(&r.partner, "partner", "", "partner (tenant) whose payee is adjusted")
	fs.StringVar(&r.payee, "payee", "", `payee as "type:id", e.g. agent:A-7`)
	fs.StringVar(&r.currency, "currency", "", "ISO 4217 currency of the amount")
	fs.StringVar(&r.amount, "amount", "", `signed decimal amount in the currency, e.g. -12.50`)
	fs.StringVar(&r.reason, "reason", "", "why (kept on the entry)")
	fs.StringVar(&r.actor, "actor", "", "who asks (kept on the entry)")
	fs.StringVar(&r.id, "request-id", "", "id of the request (default: a new UUID, printed); reuse it to retry")
	fs.StringVar(&r.policy, "policy", "", "policy the adjustment is about, if one")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if r.id == "" {
		r.id = uuid.NewString()
	}
	rec, err := r.record(pl.prefix, time.Now())
	if err != nil {
		return err
	}
	if err := pl.send(ctx, "adjustment request "+r.id, rec); err != nil {
		return err
	}
	fmt.Printf("adjustment request %s sent to %s\n", r.id, rec.Topic)
	return nil
}

// record is the request as the Kafka record the stage reads; every problem
// with the flags is reported at once.
func (r adjustment) record(prefix string, now time.Time) (*kgo.Record, error) {
	payload, err := r.payload()
	if err != nil {
		return nil, err
	}
	p, err := schemas.Encode(payload)
	if err != nil {
		return nil, fmt.Errorf("encode adjustment request: %w", err)
	}
	lead := "adjustment:" + r.id
	at := now.UTC()
	v, err := schemas.Encode(schemas.Envelope{EventID: r.id, EventType: schemas.TypeAdjustmentRequested, SchemaVersion: 1,
		OccurredAt: at, ReceivedAt: &at, PartnerID: r.partner, LeadID: lead, Payload: p})
	if err != nil {
		return nil, fmt.Errorf("encode adjustment request: %w", err)
	}
	return &kgo.Record{Topic: prefix + schemas.TopicAttributions, Key: schemas.LeadKey(r.partner, lead), Value: v}, nil
}

func (r adjustment) payload() (schemas.AdjustmentRequested, error) {
	var errs []error
	for name, v := range map[string]string{"--partner": r.partner, "--reason": r.reason, "--actor": r.actor} {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
	}
	typ, id, ok := strings.Cut(r.payee, ":")
	if !ok || typ == "" || id == "" {
		errs = append(errs, fmt.Errorf("--payee %q: want type:id", r.payee))
	}
	amount, err := signedMinor(r.amount, r.currency)
	if err != nil {
		errs = append(errs, fmt.Errorf("--amount %q --currency %q: %w", r.amount, r.currency, err))
	} else if amount == 0 {
		errs = append(errs, errors.New("--amount: an adjustment of 0 changes nothing"))
	}
	return schemas.AdjustmentRequested{RequestID: r.id, PayeeID: id, PayeeType: typ, Currency: r.currency,
		AmountMinor: amount, PolicyID: r.policy, Actor: r.actor, Reason: r.reason}, errors.Join(errs...)
}

// signedMinor is money.ParseMinor with one optional sign.
func signedMinor(s, currency string) (int64, error) {
	digits, neg := strings.CutPrefix(s, "-")
	if !neg {
		digits = strings.TrimPrefix(s, "+")
	}
	v, err := money.ParseMinor(digits, currency)
	if neg {
		v = -v
	}
	return v, err
}
