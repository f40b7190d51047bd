package commission

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// Reason codes for records that cannot be journaled.
const (
	CodeUndecodable   = "undecodable_attribution"
	CodeNoRule        = "no_matching_rule"
	CodeBadRule       = "rule_failed"
	CodeBadPremium    = "invalid_premium"
	CodeBadWeights    = "weights_not_10000"
	CodeBadDates      = "invalid_policy_dates"
	CodeBadAdjustment = "invalid_adjustment"
	CodeBadClose      = "invalid_period_close"
)

// Kinds of the commission.calculated lines written before the journal;
// only the conversion of their state (see legacyPaid) reads them now.
const (
	KindCommission = "commission"
	KindOverride   = "override"
	KindClawback   = "clawback"
)

// Calculator is the stage's Processor, a worker.Stateful: what the journal
// needs to know of each policy (see policyState) is state kept through the
// runtime's worker.State. Rules is swapped atomically by the reloader; a
// batch reads it once, so one batch never mixes rule sets.
type Calculator struct {
	Rules   atomic.Pointer[RuleSet]
	Redis   redis.UniversalClient // the state's working copy (StateBackend)
	Prefix  string
	Keep    time.Duration // how long a policy's state is remembered (--keep-paid)
	Metrics *Metrics

	// Licences and FXRates are the reference data (--licences,
	// --fx-rates), nil when not configured; swapped like Rules.
	Licences atomic.Pointer[Licences]
	FXRates  atomic.Pointer[Rates]
}

var _ worker.Stateful = (*Calculator)(nil)

// journalKey is the state of one attribution, in the input partition of its
// lead. The attribution id alone: attribute derives it from the partner and
// the policy, so it is tenant-unique, and so are the entry ids.
func journalKey(partition int32, attributionID string) worker.StateKey {
	return worker.StateKey{Partition: partition, Key: "journal:" + attributionID}
}

// legacyKey is where the stage kept an attribution's lines before the
// journal (see legacyPaid).
func legacyKey(partition int32, attributionID string) worker.StateKey {
	return worker.StateKey{Partition: partition, Key: "paid:" + attributionID}
}

// adjustmentKey marks an adjustment request as posted, so a resent request
// posts nothing. Scoped: request ids are the requester's.
func adjustmentKey(partition int32, partnerID, requestID string) worker.StateKey {
	return worker.StateKey{Partition: partition, Key: "adjustment:" + schemas.Scoped(partnerID, requestID)}
}

// closedKey lists the periods closed for one partner (AllPartners: for
// every partner) in one input partition. Each partition records its own
// closes, from the close record the close-period command writes on every
// partition, so a replay of a partition closes at the same offset. Never
// expiring: a closed period stays closed.
func closedKey(partition int32, partnerID string) worker.StateKey {
	return worker.StateKey{Partition: partition, Key: "closed:" + partnerID}
}

// StateBackend implements worker.Stateful.
func (c *Calculator) StateBackend() (redis.UniversalClient, string) { return c.Redis, c.Prefix }

// ProcessBatch exists for worker.Processor only: the journal's policy
// state is state, so the runtime calls ProcessState.
func (c *Calculator) ProcessBatch(context.Context, []worker.Message) ([]worker.Result, error) {
	return nil, errors.New("commission is stateful: the runtime calls ProcessState")
}

// event is one decoded input record: an attribution, its cancellation, or
// an adjustment request.
type event struct {
	env    schemas.Envelope
	att    *schemas.AttributionCalculated
	cancel *schemas.AttributionCancelled
	adj    *schemas.AdjustmentRequested
	close  *schemas.PeriodClosed
	dec    *schemas.DecisionRequested
}

// keys are the state keys the event reads.
func (e *event) keys(partition int32) []worker.StateKey {
	closes := []worker.StateKey{closedKey(partition, e.env.PartnerID), closedKey(partition, schemas.AllPartners)}
	switch {
	case e.close != nil:
		return closes
	case e.adj != nil:
		return append(closes, adjustmentKey(partition, e.env.PartnerID, e.adj.RequestID))
	case e.dec != nil:
		return append(closes, decisionKey(partition, e.env.PartnerID, e.dec.RequestID),
			journalKey(partition, e.dec.AttributionID), legacyKey(partition, e.dec.AttributionID))
	case e.cancel != nil:
		return append(closes, journalKey(partition, e.cancel.AttributionID), legacyKey(partition, e.cancel.AttributionID))
	default:
		return append(closes, journalKey(partition, e.env.EventID), legacyKey(partition, e.env.EventID))
	}
}

// decodeEvent decodes a record of the attributions topic; the error is a
// permanent rejection.
func decodeEvent(value []byte) (*event, error) {
	ev, err := schemas.DecodeEvent(value)
	if errors.Is(err, schemas.ErrEnvelope) {
		return nil, worker.Reject(CodeUndecodable, "", "not an event envelope: %v", err)
	}
	e := event{env: ev.Envelope}
	switch p := ev.Body.(type) {
	case *schemas.AttributionCalculated:
		e.att = p
	case *schemas.AttributionCancelled:
		e.cancel = p
	case *schemas.AdjustmentRequested:
		e.adj = p
	case *schemas.PeriodClosed:
		e.close = p
	case *schemas.DecisionRequested:
		e.dec = p
	default:
		return nil, worker.Reject(CodeUndecodable, "/event_type", "unexpected event type %q", ev.EventType)
	}
	if err != nil {
		return nil, worker.Reject(CodeUndecodable, "/payload", "%v", err)
	}
	return &e, nil
}

// ProcessState implements worker.Stateful: each record becomes journal
// entries from the state of its policy, in record order, so records of one
// lead in one batch chain through the batch's own writes. Every key is
// read in one round trip first.
func (c *Calculator) ProcessState(ctx context.Context, st *worker.StateTxn, batch []worker.Message) ([]worker.Result, error) {
	rs := c.Rules.Load()
	ref := Reference{Licences: c.Licences.Load(), Rates: c.FXRates.Load()}
	results := make([]worker.Result, len(batch))
	events := make([]*event, len(batch))
	keys := make([]worker.StateKey, 0, 2*len(batch))
	for i, m := range batch {
		e, err := decodeEvent(m.Value)
		if err != nil {
			results[i].Err = err
			continue
		}
		events[i] = e
		keys = append(keys, e.keys(m.Partition)...)
		keys = append(keys, chainKey(m.Partition))
	}
	if err := st.Prefetch(ctx, keys...); err != nil {
		return nil, fmt.Errorf("read journal state: %w", err)
	}
	for i, e := range events {
		if e == nil {
			continue
		}
		var entries []schemas.JournalEntry
		var err error
		part := batch[i].Partition
		switch {
		case e.att != nil:
			entries, err = c.accrue(ctx, st, part, rs, ref, e.env, *e.att)
		case e.cancel != nil:
			entries, err = c.cancel(ctx, st, part, e.env, *e.cancel)
		case e.close != nil:
			err = c.closePeriod(ctx, st, part, e.env, *e.close)
		case e.dec != nil:
			entries, err = c.decide(ctx, st, part, e.env, *e.dec)
		default:
			entries, err = c.adjust(ctx, st, part, e.env, *e.adj)
		}
		if worker.IsPermanent(err) {
			results[i].Err = err
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := c.postOpen(ctx, st, part, e.env.PartnerID, entries); err != nil {
			return nil, err
		}
		// Sealed only once they are sure to be emitted: a rejected
		// record's entries never reach the journal, so they hold no link.
		if err := seal(ctx, st, part, entries); err != nil {
			return nil, err
		}
		if results[i].Out, err = outputs(e.env, entries); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// accrue journals one attribution version: the reversal of what stands of
// the version before it, the new version's accruals, and the clawback of
// what the cancellation in force (if any) makes unearned of them, so a
// late touch after a cancellation never pays the cancelled share again. A
// version not newer than the one journaled (a resend, or a stale one) posts
// nothing.
func (c *Calculator) accrue(ctx context.Context, st *worker.StateTxn, part int32, rs *RuleSet, ref Reference, env schemas.Envelope, att schemas.AttributionCalculated) ([]schemas.JournalEntry, error) {
	prev, _, err := c.load(ctx, st, part, env.EventID, env)
	if err != nil {
		return nil, err
	}
	if prev.Accrued && att.Version <= prev.Version {
		return nil, nil
	}
	accrued, err := accrualsFor(rs, ref, env, att)
	if err != nil {
		return nil, err
	}
	missing, err := ref.convertAccruals(accrued, receivedAt(env))
	if err != nil {
		return nil, worker.Reject(CodeBadRule, "/payload/policy", "%v", err)
	}
	stampHolds(rs, att.Policy, accrued)
	held, err := namedHolds(rs, env, att.Policy, accrued)
	if err != nil {
		return nil, err
	}
	held = append(held, fxHolds(rs, ref, accrued, held, missing)...)
	next := policyState{Accrued: true, Version: att.Version, RuleSetVersion: rs.Version, Policy: att.Policy,
		ChargebackDays: rs.ChargebackWindow(att.Policy.ProductLine), Cancel: prev.Cancel, Cancellations: prev.Cancellations}
	for _, e := range accrued {
		if e.AmountMinor != 0 {
			next.Standing = append(next.Standing, standing{Entry: e})
		}
	}
	clawed, next, err := settle(next, env)
	if err != nil {
		return nil, err
	}
	if err := c.store(st, journalKey(part, env.EventID), next); err != nil {
		return nil, err
	}
	out := reversals(prev, att.Version, env)
	out = append(out, accrued...)
	out = append(out, held...)
	return append(out, clawed...), nil
}

// cancel makes cn the policy's cancellation in force and posts what that
// changes: clawbacks of the newly unearned, or reinstatements when its date
// is later than the one before. A cancellation of an attribution with
// nothing accrued yet is kept (counted) and applied when it accrues.
func (c *Calculator) cancel(ctx context.Context, st *worker.StateTxn, part int32, env schemas.Envelope, cn schemas.AttributionCancelled) ([]schemas.JournalEntry, error) {
	if _, err := time.Parse(time.DateOnly, cn.CancelledOn); err != nil {
		return nil, worker.Reject(CodeBadDates, "/payload/cancelled_on", "cancelled on %q: %v", cn.CancelledOn, err)
	}
	p, ok, err := c.load(ctx, st, part, cn.AttributionID, env)
	if err != nil {
		return nil, err
	}
	if !ok || !p.Accrued {
		c.Metrics.clawbackUnknown.Inc()
	}
	if p.Cancel != nil && p.Cancel.On == cn.CancelledOn {
		return nil, nil // the same date again changes nothing
	}
	p.Cancel = &cancelState{EventID: env.EventID, On: cn.CancelledOn}
	p.Cancellations++
	entries, after, err := settle(p, env)
	if err != nil {
		return nil, err
	}
	return entries, c.store(st, journalKey(part, cn.AttributionID), after)
}

// adjust posts a manual adjustment, once per request id.
func (c *Calculator) adjust(ctx context.Context, st *worker.StateTxn, part int32, env schemas.Envelope, req schemas.AdjustmentRequested) ([]schemas.JournalEntry, error) {
	e, err := adjustment(env, req)
	if err != nil {
		return nil, err
	}
	key := adjustmentKey(part, env.PartnerID, req.RequestID)
	if _, posted, err := st.Get(ctx, key); err != nil || posted {
		return nil, err
	}
	st.Put(key, []byte(e.EntryID), c.Keep)
	return []schemas.JournalEntry{e}, nil
}

// closePeriod records req.Period as closed for the envelope's partner
// (AllPartners: every partner) in partition part. Closing a period closed
// already changes nothing, so the command may be re-run.
func (c *Calculator) closePeriod(ctx context.Context, st *worker.StateTxn, part int32, env schemas.Envelope, req schemas.PeriodClosed) error {
	if _, err := time.Parse("2006-01", req.Period); err != nil || strings.TrimSpace(env.PartnerID) == "" {
		return worker.Reject(CodeBadClose, "/payload/period", "close period %q of partner %q: want YYYY-MM and a partner", req.Period, env.PartnerID)
	}
	key := closedKey(part, env.PartnerID)
	closed, err := closedPeriods(ctx, st, key)
	if err != nil || slices.Contains(closed, req.Period) {
		return err
	}
	closed = append(closed, req.Period)
	slices.Sort(closed)
	b, err := schemas.Encode(closed)
	if err != nil {
		return fmt.Errorf("encode closed periods %s: %w", key.Key, err)
	}
	st.Put(key, b, 0)
	return nil
}

func closedPeriods(ctx context.Context, st *worker.StateTxn, key worker.StateKey) ([]string, error) {
	b, ok, err := st.Get(ctx, key)
	if err != nil || !ok {
		return nil, err
	}
	var closed []string
	if err := schemas.Decode(b, &closed); err != nil {
		return nil, fmt.Errorf("decode closed periods %s: %w", key.Key, err)
	}
	return closed, nil
}

// postOpen moves every entry whose period is closed for its partner into
// the first open period after it: a closed period never changes, and what
// would have changed it (a late touch, a cancellation, an adjustment)
// posts in the open period. The journal core knows nothing of closes; the
// move happens before the entries are sealed into the chain.
func (c *Calculator) postOpen(ctx context.Context, st *worker.StateTxn, part int32, partnerID string, entries []schemas.JournalEntry) error {
	if len(entries) == 0 {
		return nil
	}
	closed := map[string]bool{}
	for _, p := range []string{partnerID, schemas.AllPartners} {
		ps, err := closedPeriods(ctx, st, closedKey(part, p))
		if err != nil {
			return err
		}
		for _, period := range ps {
			closed[period] = true
		}
	}
	for i := range entries {
		entries[i].Period = firstOpen(entries[i].Period, closed)
	}
	return nil
}

// firstOpen is period, or the first month after it not in closed.
func firstOpen(period string, closed map[string]bool) string {
	for closed[period] {
		t, err := time.Parse("2006-01", period)
		if err != nil {
			return period // the journal core always stamps YYYY-MM
		}
		period = t.AddDate(0, 1, 0).Format("2006-01")
	}
	return period
}

// load reads the policy state of an attribution, converting the state kept
// before the journal when that is all there is; ok is false when there is
// neither.
func (c *Calculator) load(ctx context.Context, st *worker.StateTxn, part int32, attributionID string, cause schemas.Envelope) (policyState, bool, error) {
	key := journalKey(part, attributionID)
	b, ok, err := st.Get(ctx, key)
	if err != nil {
		return policyState{}, false, err
	}
	if ok {
		var p policyState
		if err := schemas.Decode(b, &p); err != nil {
			return policyState{}, false, fmt.Errorf("decode journal state %s: %w", key.Key, err)
		}
		return p, true, nil
	}
	old := legacyKey(part, attributionID)
	if b, ok, err = st.Get(ctx, old); err != nil || !ok {
		return policyState{}, false, err
	}
	var lp legacyPaid
	if err := schemas.Decode(b, &lp); err != nil {
		return policyState{}, false, fmt.Errorf("decode paid state %s: %w", old.Key, err)
	}
	return lp.policyState(attributionID, cause), true, nil
}

func (c *Calculator) store(st *worker.StateTxn, key worker.StateKey, p policyState) error {
	b, err := schemas.Encode(p)
	if err != nil {
		return fmt.Errorf("encode journal state %s: %w", key.Key, err)
	}
	st.Put(key, b, c.Keep)
	return nil
}

// outputs are entries as records of the commissions topic, keyed by the
// cause's tenant-scoped lead: the envelopes of envelopes (the wire form
// Lines returns), each encoded in one pass with its payload typed.
func outputs(cause schemas.Envelope, entries []schemas.JournalEntry) ([]worker.Output, error) {
	outs := make([]worker.Output, len(entries))
	key := schemas.LeadKey(cause.PartnerID, cause.LeadID)
	for i := range entries {
		ev := entryEvent{EventID: entries[i].EntryID, EventType: schemas.TypeCommissionEntry, SchemaVersion: 1,
			OccurredAt: cause.OccurredAt, ReceivedAt: cause.ReceivedAt, PartnerID: cause.PartnerID, LeadID: cause.LeadID,
			Payload: &entries[i]}
		v, err := schemas.Encode(&ev)
		if err != nil {
			return nil, fmt.Errorf("encode journal entry %s: %w", ev.EventID, err)
		}
		outs[i] = worker.Output{Topic: schemas.TopicCommissions, Key: key, Value: v}
	}
	return outs, nil
}

// entryEvent is the schemas.Envelope of a commission.entry (no idempotency
// key, no trace) with its payload typed. Encoding an Envelope costs the
// payload's encoding, then a scan of those bytes back (a json.RawMessage is
// validated and compacted) and their copy: a third of the work per line.
// TestOutputsAreTheEnvelopesEncoded holds the two to the same bytes.
type entryEvent struct {
	EventID       string                `json:"event_id"`
	EventType     string                `json:"event_type"`
	SchemaVersion int                   `json:"schema_version"`
	OccurredAt    time.Time             `json:"occurred_at"`
	ReceivedAt    *time.Time            `json:"received_at,omitempty"`
	PartnerID     string                `json:"partner_id"`
	LeadID        string                `json:"lead_id"`
	Payload       *schemas.JournalEntry `json:"payload"`
}

// legacyPaid is the state the stage kept per attribution before the
// journal (key paid:<attribution id>): every line id written, the line as
// last written, and what cancellations took back of it.
type legacyPaid struct {
	Version        int64                `json:"version"`
	RuleSetVersion string               `json:"rule_set_version"`
	ChargebackDays int                  `json:"chargeback_days"`
	Policy         schemas.PolicyIssued `json:"policy"`
	Lines          []struct {
		ID         string                       `json:"id"`
		Line       schemas.CommissionCalculated `json:"line"`
		ClawedBack int64                        `json:"clawed_back_minor,omitempty"`
	} `json:"lines"`
}

// policyState maps the old lines onto the journal: each positive line is
// a standing accrual whose entry id is its line id (the row in
// commission_lines), with what was clawed back of it; so a new version
// reverses what stands of it and a cancellation claws only the rest. The
// date of an earlier cancellation was not kept: a later version pays in
// full again, as it did before the journal.
func (lp legacyPaid) policyState(attributionID string, cause schemas.Envelope) policyState {
	p := policyState{Accrued: true, Version: lp.Version, RuleSetVersion: lp.RuleSetVersion, ChargebackDays: lp.ChargebackDays, Policy: lp.Policy}
	for _, l := range lp.Lines {
		if l.Line.AmountMinor <= 0 || l.Line.Kind == KindClawback {
			continue
		}
		e := schemas.JournalEntry{EntryID: l.ID, Kind: schemas.EntryAccrual, PayeeID: l.Line.PayeeID, PayeeType: l.Line.PayeeType,
			Currency: l.Line.Currency, AmountMinor: l.Line.AmountMinor, CauseID: attributionID, AttributionID: attributionID,
			AttributionVersion: l.Line.AttributionVersion, PolicyID: l.Line.PolicyID, PartnerID: cause.PartnerID, LeadID: cause.LeadID,
			ProductLine: l.Line.ProductLine, SaleType: l.Line.SaleType, Model: l.Line.Model, WeightBP: l.Line.WeightBP,
			RuleSetVersion: l.Line.RuleSetVersion, RuleID: l.Line.RuleID, PremiumMinor: l.Line.PremiumMinor, SourceEntryID: l.Line.SourceLineID}
		if l.Line.Kind == KindOverride {
			_, _ = fmt.Sscanf(l.Line.RuleID, "override:%d", &e.OverrideLevel)
		}
		p.Standing = append(p.Standing, standing{Entry: e, Clawed: l.ClawedBack})
	}
	return p
}
