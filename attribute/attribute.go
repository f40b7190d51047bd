package attribute

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// CodeUndecodable rejects records that are not event envelopes or whose
// payload does not decode; validate should have stopped them.
const CodeUndecodable = "undecodable_event"

// attributionSpace namespaces attribution and cancellation ids (UUIDv5).
var attributionSpace = uuid.MustParse("a7b1d0c4-3a5e-4e0e-8f57-9d8f1c2b6e10")

// Config is the stage's behaviour; see App for the flags.
type Config struct {
	Lookback         time.Duration
	Grace            time.Duration // how long after a conversion a late touch still re-attributes it
	MaxTouches       int
	Params           Params
	PaidModel        string
	PaidModelByLine  map[string]string // product line → model
	ExcludeReferrers []string          // referrer types that never get credit
	KeepConversions  time.Duration     // how long conversions are kept for cancellations
	// DataDriven is the trained model paying as markov or shapley (nil
	// when none is loaded); DataDrivenFallback pays a conversion none of
	// whose channels it credits.
	DataDriven         *TrainedModel
	DataDrivenFallback string
}

// Attributor is the stage's Processor, a worker.Stateful: its touchpoints
// and conversions live in the runtime's worker.State (Redis as the working
// copy under Prefix, a Kafka changelog as the truth).
type Attributor struct {
	Redis   redis.UniversalClient
	Prefix  string
	Config  Config
	Metrics *Metrics
	// trained is the trained model a reload swapped in (see trainedModel).
	trained atomic.Pointer[TrainedModel]
}

// conversion is what is kept of a policy.issued so that a late touch can
// re-attribute it, a resend be recognised and a cancellation find what it
// cancels. The first policy.issued of a conversion defines it; Version and
// Digest describe the last attribution emitted for it.
type conversion struct {
	EventID    string               `json:"event_id"` // the first policy.issued's, for the audit trail
	OccurredAt time.Time            `json:"occurred_at"`
	ReceivedAt time.Time            `json:"received_at"`
	PartnerID  string               `json:"partner_id"`
	LeadID     string               `json:"lead_id"`
	Policy     schemas.PolicyIssued `json:"policy"`
	Version    int64                `json:"version,omitempty"`
	Digest     string               `json:"digest,omitempty"`    // of that attribution's payload, version left out
	Cancelled  []string             `json:"cancelled,omitempty"` // cancelled_on dates already forwarded
	// Agent is the policy's agent of record for this term, decided when
	// the conversion was first seen (see agentFor); nil when none is known.
	Agent *agentSpell `json:"agent,omitempty"`
}

type decoded struct {
	lead   string // tenant-scoped (schemas.Scoped): the key of the lead's state
	touch  *Touch
	conv   *conversion
	cancel *cancellation
	agent  *agentChange
}

// keepsState says whether the event reads or changes its lead's state;
// status updates and undecodable records do not.
func (d decoded) keepsState() bool {
	return d.touch != nil || d.conv != nil || d.cancel != nil || d.agent != nil
}

type agentChange struct {
	env schemas.Envelope
	p   schemas.PolicyAgentChanged
}

type cancellation struct {
	env schemas.Envelope
	p   schemas.PolicyCancelled
}

// ProcessBatch exists because worker.Processor requires it; the runtime
// calls ProcessState on a Stateful processor.
func (a *Attributor) ProcessBatch(context.Context, []worker.Message) ([]worker.Result, error) {
	return nil, errors.New("attribute is stateful: the runtime calls ProcessState")
}

// StateBackend implements worker.Stateful.
func (a *Attributor) StateBackend() (redis.UniversalClient, string) { return a.Redis, a.Prefix }

// ProcessState implements worker.Stateful. Records are handled one after
// the other, each against its lead's state as the records before it left
// it, so the outputs do not depend on where batches are cut; the state is
// read in one round trip up front and written back once at the end.
func (a *Attributor) ProcessState(ctx context.Context, st *worker.StateTxn, batch []worker.Message) ([]worker.Result, error) {
	results := make([]worker.Result, len(batch))
	events := make([]decoded, len(batch))
	var keys []worker.StateKey
	for i, m := range batch {
		d, err := decode(m.Value)
		if err != nil {
			results[i].Err = err
			continue
		}
		events[i] = d
		if d.keepsState() {
			keys = append(keys, stateKeys(m.Partition, d.lead)...)
		}
	}
	if len(keys) == 0 {
		return results, nil
	}
	if err := st.Prefetch(ctx, keys...); err != nil {
		return nil, fmt.Errorf("read touchpoints and conversions: %w", err)
	}
	leads := newLeads(st)
	for i, d := range events {
		if !d.keepsState() {
			continue
		}
		l, err := leads.get(ctx, batch[i].Partition, d.lead)
		if err != nil {
			return nil, err
		}
		if results[i].Out, err = a.process(l, d); err != nil {
			return nil, err
		}
	}
	if err := leads.save(a.Config); err != nil {
		return nil, err
	}
	return results, nil
}

// process applies one event to its lead's state and returns the records it
// causes.
func (a *Attributor) process(l *lead, d decoded) ([]worker.Output, error) {
	switch {
	case d.touch != nil:
		return a.touched(l, *d.touch)
	case d.conv != nil:
		return a.converted(l, *d.conv)
	case d.agent != nil:
		l.changeAgent(*d.agent)
		return nil, nil
	default:
		return a.cancelled(l, *d.cancel)
	}
}

// touched keeps a touchpoint and re-attributes every conversion of the lead
// it arrived late for.
func (a *Attributor) touched(l *lead, t Touch) ([]worker.Output, error) {
	if n := l.addTouch(t, a.Config.MaxTouches); n > 0 {
		a.Metrics.pruned.Add(float64(n))
	}
	var outs []worker.Output
	for _, c := range l.convs {
		if !a.counts(*c, t) {
			continue
		}
		out, ok, err := a.attribute(c, l.touches)
		if err != nil {
			return nil, err
		}
		if ok {
			l.convsDirty = true
			outs = append(outs, out)
			a.Metrics.reattributed.Inc()
		}
	}
	return outs, nil
}

// converted attributes a new conversion. A resend of one the lead already
// has (same policy, sale type and effective date, another event id) is the
// same conversion: it is re-attributed under the same id and emits only if
// the attribution changed since the last one emitted.
func (a *Attributor) converted(l *lead, c conversion) ([]worker.Output, error) {
	known := l.conversion(c.attributionID())
	if known != nil {
		a.Metrics.resent.WithLabelValues(schemas.TypePolicyIssued).Inc()
	} else {
		c.Agent = agentFor(l, c)
		known = l.addConversion(c)
	}
	var outs []worker.Output
	out, ok, err := a.attribute(known, l.touches)
	if err != nil {
		return nil, err
	}
	if ok {
		l.convsDirty = true
		outs = append(outs, out)
	}
	// Cancellations that arrived before this issue go on now, after the
	// attribution they cancel, as they would have in order.
	for _, cancel := range l.unpark(c.PartnerID, c.LeadID, c.Policy.PolicyID) {
		fwd, err := a.cancelled(l, cancel)
		if err != nil {
			return nil, err
		}
		outs = append(outs, fwd...)
	}
	return outs, nil
}

// counts says whether touch t takes part in conversion c: it happened no
// later than the conversion and within the lookback, and reached ingest no
// later than the grace period after the conversion did.
func (a *Attributor) counts(c conversion, t Touch) bool {
	return !t.OccurredAt.After(c.OccurredAt) &&
		!t.OccurredAt.Before(c.OccurredAt.Add(-a.Config.Lookback)) &&
		!t.ReceivedAt.After(c.ReceivedAt.Add(a.Config.Grace))
}

// decode reads a record of referrals.unique into what attribute acts on.
func decode(raw []byte) (decoded, error) {
	ev, err := schemas.DecodeEvent(raw)
	if errors.Is(err, schemas.ErrEnvelope) {
		return decoded{}, worker.Reject(CodeUndecodable, "", "not an event envelope: %v", err)
	}
	// A lead id means nothing without its partner: two partners' leads of
	// the same id keep apart touches and conversions.
	d := decoded{lead: schemas.Scoped(ev.PartnerID, ev.LeadID)}
	received := ev.OccurredAt
	if ev.ReceivedAt != nil {
		received = *ev.ReceivedAt
	}
	switch p := ev.Body.(type) {
	case *schemas.ReferralCreated:
		d.touch = &Touch{EventID: ev.EventID, ReferrerID: p.Referrer.ID, ReferrerType: p.Referrer.Type,
			Channel: p.Channel, OccurredAt: ev.OccurredAt.UTC(), ReceivedAt: received.UTC()}
	case *schemas.PolicyCancelled:
		d.cancel = &cancellation{env: ev.Envelope, p: *p}
	case *schemas.PolicyAgentChanged:
		d.agent = &agentChange{env: ev.Envelope, p: *p}
	case *schemas.PolicyIssued:
		d.conv = &conversion{EventID: ev.EventID, OccurredAt: ev.OccurredAt.UTC(), ReceivedAt: received.UTC(),
			PartnerID: ev.PartnerID, LeadID: ev.LeadID, Policy: *p}
	default:
		// Status updates, and types attribute does not act on, pass
		// without state or output however their payload reads.
		return d, nil
	}
	if err != nil {
		return d, worker.Reject(CodeUndecodable, "/payload", "%v", err)
	}
	return d, nil
}

// attribute weighs the lead's touches that count for c under every model and
// builds the output record; ok is false when it would repeat the last
// attribution emitted for c. On ok, c records what was emitted.
func (a *Attributor) attribute(c *conversion, all []Touch) (out worker.Output, ok bool, err error) {
	att, latest := a.weigh(*c, all)
	digest, err := digestOf(att)
	if err != nil {
		return worker.Output{}, false, err
	}
	if c.Version != 0 && digest == c.Digest {
		return worker.Output{}, false, nil
	}
	att.Version = nextVersion(c.Version, latest<<10|int64(min(len(att.Touchpoints), 1023)))
	if out, err = a.output(*c, att); err != nil {
		return worker.Output{}, false, err
	}
	if !slices.ContainsFunc(att.Touchpoints, func(tp schemas.Touchpoint) bool { return !tp.Excluded }) {
		a.Metrics.unattributed.Inc()
	}
	if att.PaidModel == AgentOfRecord {
		a.Metrics.agentOfRecord.Inc()
	}
	if slices.Contains(DataDrivenNames, a.paidModel(*c)) && att.PaidModel == a.Config.DataDrivenFallback {
		a.Metrics.dataDrivenFallbacks.Inc()
	}
	c.Version, c.Digest = att.Version, digest
	return out, true, nil
}

// weigh builds c's attribution from the touches that count for it, without
// its version, and returns the latest ingest time (Unix ms) among c and
// those touches.
func (a *Attributor) weigh(c conversion, all []Touch) (schemas.AttributionCalculated, int64) {
	latest := c.ReceivedAt.UnixMilli()
	var counted, excluded []Touch
	for _, t := range all {
		if !a.counts(c, t) {
			continue
		}
		latest = max(latest, t.ReceivedAt.UnixMilli())
		if slices.Contains(a.Config.ExcludeReferrers, t.ReferrerType) {
			excluded = append(excluded, t)
			continue
		}
		counted = append(counted, t)
	}
	weights := Weigh(counted, c.OccurredAt, a.Config.Params)
	tps := make([]schemas.Touchpoint, 0, len(counted)+len(excluded))
	for i, t := range counted {
		w := make(map[string]int, len(ModelNames))
		for _, m := range ModelNames {
			w[m] = weights[m][i]
		}
		tps = append(tps, touchpoint(t, w, false))
	}
	for _, t := range excluded {
		w := make(map[string]int, len(ModelNames))
		for _, m := range ModelNames {
			w[m] = 0
		}
		tps = append(tps, touchpoint(t, w, true))
	}
	paid := a.paidModel(c)
	var version string
	if slices.Contains(DataDrivenNames, paid) {
		paid, version = a.dataDriven(paid, counted, tps)
	}
	// Renewal commission goes to the agent of record, and so does a sale
	// no touch is credited for, rather than to nobody.
	if c.Agent != nil && (paidToAgent(c.Policy.SaleType) || len(counted) == 0) {
		tps = append(tps, agentTouchpoint(c))
		paid = AgentOfRecord
	}
	return schemas.AttributionCalculated{PolicyEventID: c.EventID, Policy: c.Policy, PaidModel: paid, ModelVersion: version,
		Touchpoints: tps}, latest
}

// paidModel is the model configured to pay c: --paid-model, or its
// product line's.
func (a *Attributor) paidModel(c conversion) string {
	if m, ok := a.Config.PaidModelByLine[c.Policy.ProductLine]; ok {
		return m
	}
	return a.Config.PaidModel
}

// dataDriven adds the trained model's weights, under its method's name
// paid, to the touchpoints tps (counted first, in order, then the
// excluded, which get 0) and returns paid and the model's version. When the
// model credits none of the counted touches' channels it adds nothing and
// returns the fallback model and no version.
func (a *Attributor) dataDriven(paid string, counted []Touch, tps []schemas.Touchpoint) (string, string) {
	m := a.trainedModel()
	if m == nil || m.Method != paid { // config refuses this; never pay by a model not loaded
		return a.Config.DataDrivenFallback, ""
	}
	w, ok := m.Weigh(counted)
	if !ok {
		return a.Config.DataDrivenFallback, ""
	}
	for i := range tps {
		tps[i].Weights[paid] = 0
		if i < len(w) {
			tps[i].Weights[paid] = w[i]
		}
	}
	return paid, m.Version
}

// nextVersion is the version of a changed attribution: what the touch set
// says (latest ingest ms × 1024 + touch count, which grows as touches
// arrive), but always above the last version emitted, because pruning,
// expiry or a new configuration can shrink what the touch set says.
func nextVersion(last, computed int64) int64 {
	if computed > last {
		return computed
	}
	return last + 1
}

// digestOf identifies an attribution's content apart from its version, so
// that re-attributing a conversion to the same result emits nothing.
func digestOf(att schemas.AttributionCalculated) (string, error) {
	att.Version = 0
	b, err := schemas.Encode(att)
	if err != nil {
		return "", fmt.Errorf("encode attribution for its digest: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// output is the attribution.calculated record of c.
func (a *Attributor) output(c conversion, att schemas.AttributionCalculated) (worker.Output, error) {
	payload, err := schemas.Encode(att)
	if err != nil {
		return worker.Output{}, fmt.Errorf("encode attribution: %w", err)
	}
	received := c.ReceivedAt
	v, err := schemas.Encode(schemas.Envelope{
		EventID:       c.attributionID(),
		EventType:     schemas.TypeAttributionCalculated,
		SchemaVersion: 1,
		OccurredAt:    c.OccurredAt,
		ReceivedAt:    &received,
		PartnerID:     c.PartnerID,
		LeadID:        c.LeadID,
		Payload:       payload,
	})
	if err != nil {
		return worker.Output{}, fmt.Errorf("encode attribution envelope: %w", err)
	}
	return worker.Output{Topic: schemas.TopicAttributions, Key: schemas.LeadKey(c.PartnerID, c.LeadID), Value: v}, nil
}

// cancelled forwards a policy.cancelled of a conversion of the lead as an
// attribution.cancelled for each conversion it cancels (see inForce), so
// that commission can claw back; one already forwarded for that date is a
// resend and forwarded once only. A cancellation of a policy the lead has
// no conversion of (not issued yet, or expired) is parked in the lead's
// state, once per date, and forwarded when the policy is issued (see
// converted).
func (a *Attributor) cancelled(l *lead, c cancellation) ([]worker.Output, error) {
	convs := inForce(l.convs, c.p.PolicyID, c.p.CancelledOn)
	if len(convs) == 0 {
		if l.park(c) {
			a.Metrics.parked.Inc()
		} else {
			a.Metrics.resent.WithLabelValues(schemas.TypePolicyCancelled).Inc()
		}
		return nil, nil
	}
	var outs []worker.Output
	for _, conv := range convs {
		if slices.Contains(conv.Cancelled, c.p.CancelledOn) {
			continue
		}
		out, err := cancellationOf(conv, c)
		if err != nil {
			return nil, err
		}
		conv.Cancelled = append(conv.Cancelled, c.p.CancelledOn)
		l.convsDirty = true
		outs = append(outs, out)
	}
	if len(outs) == 0 {
		a.Metrics.resent.WithLabelValues(schemas.TypePolicyCancelled).Inc()
	}
	return outs, nil
}

// cancellationOf is the attribution.cancelled of conv for c.
func cancellationOf(conv *conversion, c cancellation) (worker.Output, error) {
	payload, err := schemas.Encode(schemas.AttributionCancelled{
		AttributionID: conv.attributionID(), PolicyEventID: conv.EventID, CancelEventID: c.env.EventID,
		Policy: conv.Policy, CancelledOn: c.p.CancelledOn,
	})
	if err != nil {
		return worker.Output{}, fmt.Errorf("encode cancellation: %w", err)
	}
	v, err := schemas.Encode(schemas.Envelope{
		EventID: cancellationID(conv.attributionID(), c.p.CancelledOn), EventType: schemas.TypeAttributionCancelled,
		SchemaVersion: 1, OccurredAt: c.env.OccurredAt, ReceivedAt: c.env.ReceivedAt, PartnerID: c.env.PartnerID,
		LeadID: c.env.LeadID, Payload: payload,
	})
	if err != nil {
		return worker.Output{}, fmt.Errorf("encode cancellation envelope: %w", err)
	}
	return worker.Output{Topic: schemas.TopicAttributions, Key: schemas.LeadKey(c.env.PartnerID, c.env.LeadID), Value: v}, nil
}

// inForce are the conversions of policyID that a cancellation on date on
// cancels: every one whose period (effective date plus term months) ends
// after that date, so has something unearned — the term in force and, for
// a policy paid in installments, the installment in force beside it (and
// any conversion not yet in effect, wholly unearned). When every period
// ended before the date, the latest term effective on or before it (its
// cancellation claws back nothing; it is forwarded for the record). In
// order of effective date; dates are YYYY-MM-DD, so they compare as strings.
func inForce(convs []*conversion, policyID, on string) []*conversion {
	var open []*conversion
	var latest *conversion
	for _, c := range convs {
		if c.Policy.PolicyID != policyID {
			continue
		}
		if c.Policy.EffectiveDate <= on && (latest == nil || c.Policy.EffectiveDate > latest.Policy.EffectiveDate) {
			latest = c
		}
		if periodEnd(c.Policy) > on {
			open = append(open, c)
		}
	}
	if len(open) == 0 && latest != nil {
		open = append(open, latest)
	}
	slices.SortStableFunc(open, func(a, b *conversion) int { return strings.Compare(a.Policy.EffectiveDate, b.Policy.EffectiveDate) })
	return open
}

// periodEnd is the day after the last day p covers, YYYY-MM-DD; a date
// that does not parse reads as covering nothing past it (validate refuses
// such dates before here).
func periodEnd(p schemas.PolicyIssued) string {
	_, end, err := p.Period()
	if err != nil {
		return p.EffectiveDate
	}
	return end.Format(time.DateOnly)
}

// attributionID derives the id of a conversion's attribution from what
// makes it one conversion: the partner, the policy id, the sale type and the
// effective date. A resend of the policy.issued under another event id gets
// the same id; a renewal (another sale type, another effective date) gets
// its own. Commission keys what it paid by this id, so it must never
// change. The fields are unambiguous joined by "|": partner ids and policy
// ids cannot hold one (their schemas), sale types and dates do not.
func attributionID(partnerID, policyID, saleType, effectiveDate string) string {
	name := schemas.Scoped(partnerID, policyID) + "|" + saleType + "|" + effectiveDate
	return uuid.NewSHA1(attributionSpace, []byte(name)).String()
}

func (c conversion) attributionID() string {
	return attributionID(c.PartnerID, c.Policy.PolicyID, c.Policy.SaleType, c.Policy.EffectiveDate)
}

// cancellationID derives the id of a forwarded cancellation from the
// conversion it cancels and the cancellation date, so that a resent
// policy.cancelled (another event id) gets the same id.
func cancellationID(attributionID, cancelledOn string) string {
	return uuid.NewSHA1(attributionSpace, []byte("cancel|"+attributionID+"|"+cancelledOn)).String()
}

// agentFor is the agent of record of a new conversion: the one its
// policy.issued names, which the policy state then remembers from the
// term's effective date on, else the one the state has for that date.
func agentFor(l *lead, c conversion) *agentSpell {
	if c.Policy.AgentOfRecord == "" {
		return l.agentOf(c.Policy.PolicyID, c.Policy.EffectiveDate)
	}
	s := agentSpell{Agent: c.Policy.AgentOfRecord, From: c.Policy.EffectiveDate, EventID: c.EventID}
	l.setAgent(c.Policy.PolicyID, s)
	return &s
}

// agentTouchpoint credits c wholly to its agent of record under the
// AgentOfRecord model and under no touch model, which do not know it. Its
// event id is the event that named the agent, its times the conversion's.
func agentTouchpoint(c conversion) schemas.Touchpoint {
	return schemas.Touchpoint{Touch: Touch{EventID: c.Agent.EventID, ReferrerID: c.Agent.Agent, ReferrerType: schemas.ReferrerAgent,
		Channel: AgentOfRecord, OccurredAt: c.OccurredAt, ReceivedAt: c.ReceivedAt}, Weights: map[string]int{AgentOfRecord: TotalBP}}
}

func touchpoint(t Touch, w map[string]int, excluded bool) schemas.Touchpoint {
	return schemas.Touchpoint{Touch: t, Excluded: excluded, Weights: w}
}
