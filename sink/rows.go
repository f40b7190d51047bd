package sink

import (
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
		"kafka_topic", "kafka_partition", "kafka_offset"}}
	commissionLines = Table{"commission_lines", []string{"line_id", "attribution_id", "attribution_version", "policy_id", "partner_id", "lead_id",
		"payee_id", "payee_type", "product_line", "sale_type", "currency", "premium_minor", "policy_commission_minor",
		"weight_bp", "amount_minor", "rule_set_version", "rule_id", "model", "kind", "source_line_id", "converted_at",
		"kafka_topic", "kafka_partition", "kafka_offset"}}
	commissionEntries = Table{"commission_entries", []string{"entry_id", "kind", "payee_id", "payee_type", "currency", "amount_minor",
		"period", "posted_at", "corrects", "cause_id", "attribution_id", "attribution_version", "policy_id", "partner_id", "lead_id",
		"product_line", "sale_type", "model", "weight_bp", "rule_set_version", "rule_id", "premium_minor", "base_minor", "rate", "band",
		"min_applied", "cap_applied", "residue_minor", "override_level", "source_entry_id", "cancelled_on", "actor", "reason",
		"chain", "chain_seq", "prev_hash", "hash", "hold_until", "decision",
		"licence_check", "payout_currency", "payout_amount_minor", "fx_rate", "fx_source", "fx_as_of", "model_version",
		"kafka_topic", "kafka_partition", "kafka_offset"}}
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
	var env schemas.Envelope
	if err := schemas.Decode(m.Value, &env); err != nil {
		return nil, nil, fmt.Errorf("decode envelope: %w", err)
	}
	if env.EventID == "" {
		return nil, nil, fmt.Errorf("envelope without event_id")
	}
	var rows []Row
	var err error
	switch topic {
	case schemas.TopicUnique:
		rows, err = referralRows(env, src)
	case schemas.TopicAttributions:
		rows, err = attributionRows(env, src)
	case schemas.TopicCommissions:
		rows, err = commissionRows(env, src)
	default:
		err = fmt.Errorf("no table for topic %q", topic)
	}
	return rows, env.ReceivedAt, err
}

func referralRows(env schemas.Envelope, src []any) ([]Row, error) {
	var refID, refType, channel, status, policyID, product, currency string
	var premium int64
	stored := []byte(env.Payload)
	switch env.EventType {
	case schemas.TypeReferralCreated:
		var p schemas.ReferralCreated
		if err := schemas.Decode(env.Payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", env.EventType, err)
		}
		refID, refType, channel = p.Referrer.ID, p.Referrer.Type, p.Channel
		// PII stays out of ClickHouse until it is encrypted. Only this
		// type has a lead; the others' schemas allow no such field.
		var err error
		if stored, err = jsoncheck.Without(env.Payload, "lead"); err != nil {
			return nil, fmt.Errorf("drop the lead from the payload: %w", err)
		}
	case schemas.TypeReferralStatusUpdated:
		var p schemas.ReferralStatusUpdated
		if err := schemas.Decode(env.Payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", env.EventType, err)
		}
		status = p.Status
	case schemas.TypePolicyIssued:
		var p schemas.PolicyIssued
		if err := schemas.Decode(env.Payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", env.EventType, err)
		}
		v, err := money.ParseMinor(p.AnnualPremium, p.Currency)
		if err != nil {
			return nil, fmt.Errorf("premium: %w", err)
		}
		policyID, product, currency, premium = p.PolicyID, p.ProductLine, p.Currency, v
	case schemas.TypePolicyCancelled:
		var p schemas.PolicyCancelled
		if err := schemas.Decode(env.Payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", env.EventType, err)
		}
		policyID = p.PolicyID
	case schemas.TypePolicyAgentChanged:
		var p schemas.PolicyAgentChanged
		if err := schemas.Decode(env.Payload, &p); err != nil {
			return nil, fmt.Errorf("decode %s: %w", env.EventType, err)
		}
		policyID = p.PolicyID
	default:
		return nil, fmt.Errorf("unexpected event type %q", env.EventType)
	}
	received := time.Unix(0, 0).UTC()
	if env.ReceivedAt != nil {
		received = env.ReceivedAt.UTC()
	}
	return []Row{{referralEvents, append([]any{env.EventID, env.EventType, uint16(env.SchemaVersion), env.PartnerID, env.LeadID,
		env.OccurredAt.UTC(), uint64(env.OccurredAt.UnixMilli()), received, uint64(received.UnixMilli()), env.IdempotencyKey,
		refID, refType, channel, status, policyID, product, currency, premium, string(stored)}, src...)}}, nil
}

func attributionRows(env schemas.Envelope, src []any) ([]Row, error) {
	switch env.EventType {
	case schemas.TypeAttributionCancelled:
		// Only commission acts on it; the cancellation itself is in
		// referral_events as the partner's policy.cancelled.
		return nil, nil
	case schemas.TypeAdjustmentRequested:
		// Only commission acts on it; the adjustment entry it posts, with
		// actor and reason, is the record in commission_entries.
		return nil, nil
	case schemas.TypeDecisionRequested:
		// Only commission acts on it; the decision entry it posts, with
		// actor and reason, is the record in commission_entries.
		return nil, nil
	case schemas.TypePeriodClosed:
		return periodCloseRows(env, src)
	}
	if env.EventType != schemas.TypeAttributionCalculated {
		return nil, fmt.Errorf("unexpected event type %q on the attributions topic", env.EventType)
	}
	var a schemas.AttributionCalculated
	if err := schemas.Decode(env.Payload, &a); err != nil {
		return nil, fmt.Errorf("decode attribution: %w", err)
	}
	p := a.Policy
	premium, err := money.ParseMinor(p.AnnualPremium, p.Currency)
	if err != nil {
		return nil, fmt.Errorf("premium: %w", err)
	}
	head := []any{env.EventID, a.Version, a.PolicyEventID, p.PolicyID, env.PartnerID, env.LeadID, p.ProductLine, p.SaleType,
		p.Currency, premium, uint16(p.TermMonths), env.OccurredAt.UTC()}
	n := uint16(len(a.Touchpoints))
	if n == 0 {
		// An unattributed conversion still gets a row, so analysts see it.
		vals := append(append([]any{}, head...), a.PaidModel, uint8(1), n, "", "", "", "", time.Unix(0, 0).UTC(), uint8(0), uint16(0),
			a.ModelVersion)
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
				tp.Channel, tp.OccurredAt.UTC(), b2u8(tp.Excluded), uint16(w), a.ModelVersion)
			rows = append(rows, Row{attributions, append(vals, src...)})
		}
	}
	return rows, nil
}

// periodCloseRows records a period close as one partition saw it: the
// statements command counts partitions to know a close is complete.
func periodCloseRows(env schemas.Envelope, src []any) ([]Row, error) {
	var c schemas.PeriodClosed
	if err := schemas.Decode(env.Payload, &c); err != nil {
		return nil, fmt.Errorf("decode period close: %w", err)
	}
	period, err := time.Parse("2006-01", c.Period)
	if err != nil {
		return nil, fmt.Errorf("period close %s: period %q: want YYYY-MM", env.EventID, c.Period)
	}
	return []Row{{periodCloses, append([]any{env.PartnerID, period, c.RequestID, c.Actor, c.Partitions, env.OccurredAt.UTC()}, src...)}}, nil
}

// commissionRows reads the commissions topic: journal entries, and the
// lines the stage wrote before the journal.
func commissionRows(env schemas.Envelope, src []any) ([]Row, error) {
	switch env.EventType {
	case schemas.TypeCommissionEntry:
		return entryRows(env, src)
	case schemas.TypeCommissionCalculated:
		return lineRows(env, src)
	default:
		return nil, fmt.Errorf("unexpected event type %q on the commissions topic", env.EventType)
	}
}

// entryRows stores every field of the entry, its chain included: verify
// recomputes each entry's hash from its row alone (see commission/audit).
func entryRows(env schemas.Envelope, src []any) ([]Row, error) {
	var e schemas.JournalEntry
	if err := schemas.Decode(env.Payload, &e); err != nil {
		return nil, fmt.Errorf("decode journal entry: %w", err)
	}
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

func lineRows(env schemas.Envelope, src []any) ([]Row, error) {
	var l schemas.CommissionCalculated
	if err := schemas.Decode(env.Payload, &l); err != nil {
		return nil, fmt.Errorf("decode commission line: %w", err)
	}
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
