package sink

import (
	"errors"
	"fmt"
	"time"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/jsoncheck"
	"github.com/reftrack/reftrack/schemas/money"
)

// Table is a ClickHouse table and the columns the sink writes, in order.
// INSERTs always name their columns: ClickHouse 18.16 needs it for batch
// inserts, and it keeps the sink working when a migration adds a column.
type Table struct {
	Name    string
	Columns []string
}

var (
	referralEvents = Table{"referral_events", []string{"event_id", "event_type", "schema_version", "partner_id", "lead_id",
		"occurred_at", "occurred_at_ms", "received_at", "received_at_ms", "idempotency_key", "referrer_id", "referrer_type",
		"channel", "status", "policy_id", "product_line", "currency", "premium_minor", "payload",
		"kafka_topic", "kafka_partition", "kafka_offset"}}
	rejectedEvents = Table{"rejected_events", []string{"stage", "source_topic", "source_partition", "source_offset",
		"reason_codes", "reason_pointers", "reason_messages", "record_key", "original", "failed_at",
		"kafka_topic", "kafka_partition", "kafka_offset"}}
	attributions = Table{"attributions", []string{"attribution_id", "version", "policy_event_id", "policy_id", "partner_id", "lead_id",
		"product_line", "sale_type", "currency", "premium_minor", "term_months", "converted_at", "model", "paid", "touch_count",
		"touch_event_id", "referrer_id", "referrer_type", "channel", "touched_at", "excluded", "weight_bp", "model_version",
		"jurisdiction", "carrier", "effective_date", "received_at_ms", "installment_number", "installment_count", "installment_premium_minor",
		"kafka_topic", "kafka_partition", "kafka_offset"}}
	commissionLines = Table{"commission_lines", []string{"line_id", "attribution_id", "attribution_version", "policy_id", "partner_id", "lead_id",
		"payee_id", "payee_type", "product_line", "sale_type", "currency", "premium_minor", "policy_commission_minor",
		"weight_bp", "amount_minor", "rule_set_version", "rule_id", "model", "kind", "source_line_id", "converted_at",
		"kafka_topic", "kafka_partition", "kafka_offset"}}
	// The journal's columns are schemas', shared with the tests that write
	// entries without the sink.
	commissionEntries = Table{"commission_entries", schemas.CommissionEntryColumns()}

	periodCloses = Table{"commission_period_closes", []string{"partner_id", "period", "request_id", "actor", "partitions", "closed_at",
		"kafka_topic", "kafka_partition", "kafka_offset"}}
	sinkOffsets = Table{"sink_offsets", []string{"topic", "partition", "next_offset", "written_at"}}
)

// tableOf maps an unprefixed topic to its table.
var tableOf = map[string]Table{
	schemas.TopicUnique:       referralEvents,
	schemas.TopicRejected:     rejectedEvents,
	schemas.TopicAttributions: attributions,
	schemas.TopicCommissions:  commissionLines,
}

// alsoWritten are the other tables a topic's records land in, besides its
// tableOf and rejected_events, which NextOffset scans too.
var alsoWritten = map[string][]Table{schemas.TopicCommissions: {commissionEntries}, schemas.TopicAttributions: {periodCloses}}

// Row is one row with the table it belongs to.
type Row struct {
	Table  Table
	Values []any
}

// CodeUndecodable is the reason of a rejected_events row written for a
// record the sink could not turn into rows.
const CodeUndecodable = "undecodable"

// Decode turns one record of an unprefixed topic into rows. It never fails:
// a record it cannot read becomes a rejected_events row saying why.
func Decode(topic string, m worker.Message) (rows []Row, receivedAt *time.Time) {
	rows, receivedAt, err := decode(topic, m)
	if err != nil {
		return []Row{undecodable(m, err)}, nil
	}
	return rows, receivedAt
}

func decode(topic string, m worker.Message) ([]Row, *time.Time, error) {
	src := []any{m.Topic, m.Partition, m.Offset}
	if topic == schemas.TopicRejected {
		var r schemas.Rejection
		if err := schemas.Decode(m.Value, &r); err != nil {
			return nil, nil, fmt.Errorf("decode rejection: %w", err)
		}
		if len(r.Reasons) == 0 || r.Stage == "" {
			return nil, nil, fmt.Errorf("rejection without stage or reasons")
		}
		codes, ptrs := make([]string, len(r.Reasons)), make([]string, len(r.Reasons))
		for i, rs := range r.Reasons {
			codes[i], ptrs[i] = rs.Code, rs.Pointer
		}
		original, msgs := redactDeadLetter(r.Original, r.Reasons)
		return []Row{{rejectedEvents, append([]any{r.Stage, r.SourceTopic, r.SourcePartition, r.SourceOffset,
			codes, ptrs, msgs, string(r.Key), original, r.FailedAt.UTC()}, src...)}}, nil, nil
	}
	ev, err := schemas.DecodeEvent(m.Value)
	if errors.Is(err, schemas.ErrEnvelope) {
		return nil, nil, fmt.Errorf("decode envelope: %w", err)
	}
	if ev.EventID == "" {
		return nil, nil, fmt.Errorf("envelope without event_id")
	}
	// A payload that did not decode (bad) is refused by the table that
	// would read it: a type a topic does not carry is refused as such, and
	// a type a table ignores is ignored, whatever its payload.
	bad := err
	var rows []Row
	switch topic {
	case schemas.TopicUnique:
		rows, err = referralRows(ev, bad, src)
	case schemas.TopicAttributions:
		rows, err = attributionRows(ev, bad, src)
	case schemas.TopicCommissions:
		rows, err = commissionRows(ev, bad, src)
	default:
		err = fmt.Errorf("no table for topic %q", topic)
	}
	return rows, ev.ReceivedAt, err
}

func referralRows(ev schemas.Event, bad error, src []any) ([]Row, error) {
	env := ev.Envelope
	switch ev.Body.(type) {
	case *schemas.ReferralCreated, *schemas.ReferralStatusUpdated, *schemas.PolicyIssued, *schemas.PolicyCancelled, *schemas.PolicyAgentChanged:
	default:
		return nil, fmt.Errorf("unexpected event type %q", env.EventType)
	}
	if bad != nil {
		return nil, fmt.Errorf("decode %s: %w", env.EventType, bad)
	}
	var refID, refType, channel, status, policyID, product, currency string
	var premium int64
	stored := []byte(env.Payload)
	switch p := ev.Body.(type) {
	case *schemas.ReferralCreated:
		refID, refType, channel = p.Referrer.ID, p.Referrer.Type, p.Channel
		// PII stays out of ClickHouse until it is encrypted. Only this
		// type has a lead; the others' schemas allow no such field.
		var err error
		if stored, err = jsoncheck.Without(env.Payload, "lead"); err != nil {
			return nil, fmt.Errorf("drop the lead from the payload: %w", err)
		}
	case *schemas.ReferralStatusUpdated:
		status = p.Status
	case *schemas.PolicyIssued:
		v, err := money.ParseMinor(p.AnnualPremium, p.Currency)
		if err != nil {
			return nil, fmt.Errorf("premium: %w", err)
		}
		policyID, product, currency, premium = p.PolicyID, p.ProductLine, p.Currency, v
		// The policyholder is a person: its id stays out of ClickHouse.
		if stored, err = jsoncheck.Without(env.Payload, "policyholder_ref"); err != nil {
			return nil, fmt.Errorf("drop the policyholder from the payload: %w", err)
		}
	case *schemas.PolicyCancelled:
		policyID = p.PolicyID
	case *schemas.PolicyAgentChanged:
		policyID = p.PolicyID
	}
	received := time.Unix(0, 0).UTC()
	if env.ReceivedAt != nil {
		received = env.ReceivedAt.UTC()
	}
	return []Row{{referralEvents, append([]any{env.EventID, env.EventType, uint16(env.SchemaVersion), env.PartnerID, env.LeadID,
		env.OccurredAt.UTC(), uint64(env.OccurredAt.UnixMilli()), received, uint64(received.UnixMilli()), env.IdempotencyKey,
		refID, refType, channel, status, policyID, product, currency, premium, string(stored)}, src...)}}, nil
}

func attributionRows(ev schemas.Event, bad error, src []any) ([]Row, error) {
	env := ev.Envelope
	var a *schemas.AttributionCalculated
	switch p := ev.Body.(type) {
	case *schemas.AttributionCancelled:
		// Only commission acts on it; the cancellation itself is in
		// referral_events as the partner's policy.cancelled.
		return nil, nil
	case *schemas.AdjustmentRequested, *schemas.DecisionRequested:
		// Only commission acts on them; the adjustment or decision entry
		// it posts, with actor and reason, is the record in
		// commission_entries.
		return nil, nil
	case *schemas.PeriodClosed:
		if bad != nil {
			return nil, fmt.Errorf("decode period close: %w", bad)
		}
		return periodCloseRows(env, p, src)
	case *schemas.AttributionCalculated:
		if bad != nil {
			return nil, fmt.Errorf("decode attribution: %w", bad)
		}
		a = p
	default:
		return nil, fmt.Errorf("unexpected event type %q on the attributions topic", env.EventType)
	}
	p := a.Policy
	premium, err := money.ParseMinor(p.AnnualPremium, p.Currency)
	if err != nil {
		return nil, fmt.Errorf("premium: %w", err)
	}
	head := []any{env.EventID, a.Version, a.PolicyEventID, p.PolicyID, env.PartnerID, env.LeadID, p.ProductLine, p.SaleType,
		p.Currency, premium, uint16(p.TermMonths), env.OccurredAt.UTC()}
	// What whatif needs to price the policy as the stage did: licences,
	// appointments and the FX rate as of the attribution's receipt.
	policy := append([]any{a.ModelVersion, p.Jurisdiction, p.Carrier, p.EffectiveDate, uint64(0)}, installmentValues(p)...)
	if env.ReceivedAt != nil {
		policy[4] = uint64(env.ReceivedAt.UnixMilli())
	}
	n := uint16(len(a.Touchpoints))
	if n == 0 {
		// An unattributed conversion still gets a row, so analysts see it.
		vals := append(append([]any{}, head...), a.PaidModel, uint8(1), n, "", "", "", "", time.Unix(0, 0).UTC(), uint8(0), uint16(0))
		vals = append(vals, policy...)
		return []Row{{attributions, append(vals, src...)}}, nil
	}
	var rows []Row
	for _, tp := range a.Touchpoints {
		for model, w := range tp.Weights {
			paid := uint8(0)
			if model == a.PaidModel {
				paid = 1
			}
			vals := append(append([]any{}, head...), model, paid, n, tp.EventID, tp.ReferrerID, tp.ReferrerType,
				tp.Channel, tp.OccurredAt.UTC(), b2u8(tp.Excluded), uint16(w))
			vals = append(vals, policy...)
			rows = append(rows, Row{attributions, append(vals, src...)})
		}
	}
	return rows, nil
}

// periodCloseRows records a period close as one partition saw it: the
// statements command counts partitions to know a close is complete.
func periodCloseRows(env schemas.Envelope, c *schemas.PeriodClosed, src []any) ([]Row, error) {
	period, err := time.Parse("2006-01", c.Period)
	if err != nil {
		return nil, fmt.Errorf("period close %s: period %q: want YYYY-MM", env.EventID, c.Period)
	}
	return []Row{{periodCloses, append([]any{env.PartnerID, period, c.RequestID, c.Actor, c.Partitions, env.OccurredAt.UTC()}, src...)}}, nil
}

// commissionRows reads the commissions topic: journal entries, and the
// lines the stage wrote before the journal.
func commissionRows(ev schemas.Event, bad error, src []any) ([]Row, error) {
	switch p := ev.Body.(type) {
	case *schemas.JournalEntry:
		if bad != nil {
			return nil, fmt.Errorf("decode journal entry: %w", bad)
		}
		return entryRows(ev.Envelope, p, src)
	case *schemas.CommissionCalculated:
		if bad != nil {
			return nil, fmt.Errorf("decode commission line: %w", bad)
		}
		return lineRows(ev.Envelope, p, src)
	default:
		return nil, fmt.Errorf("unexpected event type %q on the commissions topic", ev.EventType)
	}
}

// entryRows stores every field of the entry, its chain included: verify
// recomputes each entry's hash from its row alone (see commission/audit).
func entryRows(env schemas.Envelope, e *schemas.JournalEntry, src []any) ([]Row, error) {
	period, err := time.Parse("2006-01", e.Period)
	if err != nil {
		return nil, fmt.Errorf("journal entry %s: period %q: want YYYY-MM", e.EntryID, e.Period)
	}
	if e.EntryID == "" || e.EntryID != env.EventID {
		return nil, fmt.Errorf("journal entry id %q differs from its event id %q", e.EntryID, env.EventID)
	}
	posted := env.OccurredAt
	if env.ReceivedAt != nil {
		posted = *env.ReceivedAt
	}
	return []Row{{commissionEntries, append([]any{e.EntryID, e.Kind, e.PayeeID, e.PayeeType, e.Currency, e.AmountMinor,
		period, posted.UTC(), e.Corrects, e.CauseID, e.AttributionID, e.AttributionVersion, e.PolicyID, e.PartnerID, e.LeadID,
		e.ProductLine, e.SaleType, e.Model, uint16(e.WeightBP), e.RuleSetVersion, e.RuleID, e.PremiumMinor, e.BaseMinor, e.Rate, e.Band,
		b2u8(e.MinApplied), b2u8(e.CapApplied), e.ResidueMinor, uint8(e.OverrideLevel), e.SourceEntryID, e.CancelledOn, e.Actor, e.Reason,
		e.Chain, e.ChainSeq, e.PrevHash, e.Hash, e.HoldUntil, e.Decision,
		e.LicenceCheck, e.PayoutCurrency, e.PayoutAmountMinor, e.FXRate, e.FXSource, e.FXAsOf, e.ModelVersion}, src...)}}, nil
}

func lineRows(env schemas.Envelope, l *schemas.CommissionCalculated, src []any) ([]Row, error) {
	return []Row{{commissionLines, append([]any{env.EventID, l.AttributionID, l.AttributionVersion, l.PolicyID, env.PartnerID, env.LeadID,
		l.PayeeID, l.PayeeType, l.ProductLine, l.SaleType, l.Currency, l.PremiumMinor, l.PolicyCommission,
		uint16(l.WeightBP), l.AmountMinor, l.RuleSetVersion, l.RuleID, l.Model, l.Kind, l.SourceLineID, env.OccurredAt.UTC()}, src...)}}, nil
}

func undecodable(m worker.Message, err error) Row {
	original, msgs := redactDeadLetter(m.Value, []schemas.Reason{{Code: CodeUndecodable, Message: err.Error()}})
	return Row{rejectedEvents, []any{"sink", m.Topic, m.Partition, m.Offset,
		[]string{CodeUndecodable}, []string{""}, msgs, string(m.Key), original, m.Timestamp.UTC(),
		m.Topic, m.Partition, m.Offset}}
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
