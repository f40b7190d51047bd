package attribute

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// CodeUndecodable rejects records that are not event envelopes or whose
// payload does not decode; validate should have stopped them.
const CodeUndecodable = "undecodable_event"

// attributionSpace namespaces attribution ids derived from tenant-scoped
// policy (and cancellation) event ids.
var attributionSpace = uuid.MustParse("a7b1d0c4-3a5e-4e0e-8f57-9d8f1c2b6e10")

// addTouch stores one touchpoint and prunes the lead's oldest touches beyond
// ARGV[4], deleting their details too; it returns how many it pruned.
// KEYS: index zset, details hash. ARGV: event id, score, details, max, ttl ms.
var addTouch = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local n = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if n > 0 then
  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, n - 1)) do
    redis.call('HDEL', KEYS[2], m)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 1)
else
  n = 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return n
`)

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
}

// Attributor is the stage's Processor.
type Attributor struct {
	Redis   redis.UniversalClient
	Prefix  string
	Config  Config
	Metrics *Metrics
}

// conversion is what is kept of a policy.issued so that a late touch can
// re-attribute it.
type conversion struct {
	EventID    string               `json:"event_id"`
	OccurredAt time.Time            `json:"occurred_at"`
	ReceivedAt time.Time            `json:"received_at"`
	PartnerID  string               `json:"partner_id"`
	LeadID     string               `json:"lead_id"`
	Policy     schemas.PolicyIssued `json:"policy"`
}

type decoded struct {
	lead   string // tenant-scoped (schemas.Scoped): the key of the lead's state
	touch  *Touch
	conv   *conversion
	cancel *cancellation
}

type cancellation struct {
	env schemas.Envelope
	p   schemas.PolicyCancelled
}

// ProcessBatch implements worker.Processor in two pipelined round trips:
// first every touchpoint and conversion of the batch is stored, then the
// touches and conversions of the leads involved are read back and every
// conversion in the batch, and every earlier conversion that a touch in the
// batch arrived late for, is attributed.
func (a *Attributor) ProcessBatch(ctx context.Context, batch []worker.Message) ([]worker.Result, error) {
	results := make([]worker.Result, len(batch))
	events := make([]decoded, len(batch))
	write := a.Redis.Pipeline()
	var pruned []*redis.Cmd
	leads := map[string]bool{}
	for i, m := range batch {
		d, err := decode(m.Value)
		if err != nil {
			results[i].Err = err
			continue
		}
		events[i] = d
		switch {
		case d.touch != nil:
			b, _ := schemas.Encode(d.touch) // strings and times: cannot fail
			pruned = append(pruned, addTouch.EvalSha(ctx, write, []string{a.key("tp", d.lead), a.key("tpd", d.lead)},
				d.touch.EventID, d.touch.OccurredAt.UnixMilli(), b, a.Config.MaxTouches, a.Config.Lookback.Milliseconds()))
			leads[d.lead] = true
		case d.conv != nil:
			b, _ := schemas.Encode(d.conv)
			write.HSet(ctx, a.key("cv", d.lead), d.conv.EventID, b)
			// Kept for late touches (grace) and for cancellations, which
			// can come a chargeback window later.
			write.PExpire(ctx, a.key("cv", d.lead), max(a.Config.Grace+time.Hour, a.Config.KeepConversions))
			leads[d.lead] = true
		case d.cancel != nil:
			leads[d.lead] = true
		}
	}
	if len(leads) == 0 {
		return results, nil
	}
	if err := a.exec(ctx, write); err != nil {
		return nil, fmt.Errorf("store touchpoints and conversions: %w", err)
	}
	for _, c := range pruned {
		if n, _ := c.Int(); n > 0 {
			a.Metrics.pruned.Add(float64(n))
		}
	}

	read := a.Redis.Pipeline()
	touchCmds := map[string]*redis.MapStringStringCmd{}
	convCmds := map[string]*redis.MapStringStringCmd{}
	for lead := range leads {
		touchCmds[lead] = read.HGetAll(ctx, a.key("tpd", lead))
		convCmds[lead] = read.HGetAll(ctx, a.key("cv", lead))
	}
	if _, err := read.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read touchpoints of %d leads: %w", len(leads), err)
	}
	touches := map[string][]Touch{}
	convs := map[string]map[string]conversion{}
	for lead := range leads {
		for _, v := range touchCmds[lead].Val() {
			var t Touch
			if err := schemas.Decode([]byte(v), &t); err != nil {
				return nil, fmt.Errorf("decode touchpoint of lead %s: %w", lead, err)
			}
			touches[lead] = append(touches[lead], t)
		}
		Order(touches[lead])
		convs[lead] = map[string]conversion{}
		for id, v := range convCmds[lead].Val() {
			var c conversion
			if err := schemas.Decode([]byte(v), &c); err != nil {
				return nil, fmt.Errorf("decode conversion %s of lead %s: %w", id, lead, err)
			}
			convs[lead][id] = c
		}
	}

	inBatch := map[string]bool{} // attribution ids this batch attributed already
	for i, d := range events {
		if d.conv != nil {
			inBatch[d.conv.attributionID()] = true
			out, err := a.attribute(*d.conv, touches[d.lead])
			if err != nil {
				return nil, err
			}
			results[i].Out = []worker.Output{out}
		}
	}
	for i, d := range events {
		if d.cancel == nil {
			continue
		}
		out, ok, err := a.cancelled(*d.cancel, convs[d.lead])
		if err != nil {
			return nil, err
		}
		if !ok {
			a.Metrics.unknownCancellations.Inc()
			continue
		}
		results[i].Out = []worker.Output{out}
	}
	for i, d := range events {
		if d.touch == nil {
			continue
		}
		for _, c := range sortedConversions(convs[d.lead]) {
			if inBatch[c.attributionID()] || !a.counts(c, *d.touch) {
				continue
			}
			// The touch arrived after its conversion was attributed: emit
			// the corrected version. Once per conversion per batch.
			inBatch[c.attributionID()] = true
			out, err := a.attribute(c, touches[d.lead])
			if err != nil {
				return nil, err
			}
			results[i].Out = append(results[i].Out, out)
			a.Metrics.reattributed.Inc()
		}
	}
	return results, nil
}

// exec runs a pipeline. If Redis lost the touch script (restart, SCRIPT
// FLUSH) it loads it and fails the batch, which the runtime retries; every
// write in the pipeline is idempotent, so the partial first run is harmless.
func (a *Attributor) exec(ctx context.Context, p redis.Pipeliner) error {
	_, err := p.Exec(ctx)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		if lerr := addTouch.Load(ctx, a.Redis).Err(); lerr != nil {
			return fmt.Errorf("load touch script: %w", lerr)
		}
	}
	return err
}

// key is the Redis key of one kind of state of a tenant-scoped lead.
func (a *Attributor) key(kind, scopedLead string) string { return a.Prefix + kind + ":" + scopedLead }

// counts says whether touch t takes part in conversion c: it happened no
// later than the conversion and within the lookback, and reached ingest no
// later than the grace period after the conversion did.
func (a *Attributor) counts(c conversion, t Touch) bool {
	return !t.OccurredAt.After(c.OccurredAt) &&
		!t.OccurredAt.Before(c.OccurredAt.Add(-a.Config.Lookback)) &&
		!t.ReceivedAt.After(c.ReceivedAt.Add(a.Config.Grace))
}

func sortedConversions(m map[string]conversion) []conversion {
	out := make([]conversion, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y conversion) int {
		if c := x.OccurredAt.Compare(y.OccurredAt); c != 0 {
			return c
		}
		return strings.Compare(x.EventID, y.EventID)
	})
	return out
}

func decode(raw []byte) (decoded, error) {
	var env schemas.Envelope
	if err := schemas.Decode(raw, &env); err != nil {
		return decoded{}, worker.Reject(CodeUndecodable, "", "not an event envelope: %v", err)
	}
	// A lead id means nothing without its partner: two partners' leads of
	// the same id keep apart touches and conversions.
	d := decoded{lead: schemas.Scoped(env.PartnerID, env.LeadID)}
	received := env.OccurredAt
	if env.ReceivedAt != nil {
		received = *env.ReceivedAt
	}
	switch env.EventType {
	case schemas.TypeReferralCreated:
		var p schemas.ReferralCreated
		if err := schemas.Decode(env.Payload, &p); err != nil {
			return d, worker.Reject(CodeUndecodable, "/payload", "%v", err)
		}
		d.touch = &Touch{EventID: env.EventID, ReferrerID: p.Referrer.ID, ReferrerType: p.Referrer.Type,
			Channel: p.Channel, OccurredAt: env.OccurredAt.UTC(), ReceivedAt: received.UTC()}
	case schemas.TypePolicyCancelled:
		var p schemas.PolicyCancelled
		if err := schemas.Decode(env.Payload, &p); err != nil {
			return d, worker.Reject(CodeUndecodable, "/payload", "%v", err)
		}
		d.cancel = &cancellation{env: env, p: p}
	case schemas.TypePolicyIssued:
		var p schemas.PolicyIssued
		if err := schemas.Decode(env.Payload, &p); err != nil {
			return d, worker.Reject(CodeUndecodable, "/payload", "%v", err)
		}
		d.conv = &conversion{EventID: env.EventID, OccurredAt: env.OccurredAt.UTC(), ReceivedAt: received.UTC(),
			PartnerID: env.PartnerID, LeadID: env.LeadID, Policy: p}
	}
	return d, nil
}

// attribute weighs the lead's touches that count for c under every model and
// builds the output record.
func (a *Attributor) attribute(c conversion, all []Touch) (worker.Output, error) {
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
	// The touch set of a conversion only grows, so the version grows with it
	// even when a late touch was received before the conversion was.
	version := latest<<10 | int64(min(len(counted)+len(excluded), 1023))
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
	if len(counted) == 0 {
		a.Metrics.unattributed.Inc()
	}
	paid := a.Config.PaidModel
	if m, ok := a.Config.PaidModelByLine[c.Policy.ProductLine]; ok {
		paid = m
	}
	payload, err := schemas.Encode(schemas.AttributionCalculated{
		Version: version, PolicyEventID: c.EventID, Policy: c.Policy, PaidModel: paid, Touchpoints: tps,
	})
	if err != nil {
		return worker.Output{}, fmt.Errorf("encode attribution: %w", err)
	}
	received := c.ReceivedAt
	out := schemas.Envelope{
		EventID:       c.attributionID(),
		EventType:     schemas.TypeAttributionCalculated,
		SchemaVersion: 1,
		OccurredAt:    c.OccurredAt,
		ReceivedAt:    &received,
		PartnerID:     c.PartnerID,
		LeadID:        c.LeadID,
		Payload:       payload,
	}
	v, err := schemas.Encode(out)
	if err != nil {
		return worker.Output{}, fmt.Errorf("encode attribution envelope: %w", err)
	}
	return worker.Output{Topic: schemas.TopicAttributions, Key: schemas.LeadKey(c.PartnerID, c.LeadID), Value: v}, nil
}

// cancelled forwards a policy.cancelled of a conversion of the lead as an
// attribution.cancelled, so that commission can claw back; ok is false when
// the lead has no conversion of that policy (never issued, or expired).
func (a *Attributor) cancelled(c cancellation, convs map[string]conversion) (worker.Output, bool, error) {
	for _, conv := range sortedConversions(convs) {
		if conv.Policy.PolicyID != c.p.PolicyID || conv.PartnerID != c.env.PartnerID {
			continue
		}
		payload, err := schemas.Encode(schemas.AttributionCancelled{
			AttributionID: conv.attributionID(), PolicyEventID: conv.EventID, CancelEventID: c.env.EventID,
			Policy: conv.Policy, CancelledOn: c.p.CancelledOn,
		})
		if err != nil {
			return worker.Output{}, false, fmt.Errorf("encode cancellation: %w", err)
		}
		v, err := schemas.Encode(schemas.Envelope{
			EventID: cancellationID(c.env.PartnerID, c.env.EventID), EventType: schemas.TypeAttributionCancelled,
			SchemaVersion: 1, OccurredAt: c.env.OccurredAt, ReceivedAt: c.env.ReceivedAt, PartnerID: c.env.PartnerID,
			LeadID: c.env.LeadID, Payload: payload,
		})
		if err != nil {
			return worker.Output{}, false, fmt.Errorf("encode cancellation envelope: %w", err)
		}
		return worker.Output{Topic: schemas.TopicAttributions, Key: schemas.LeadKey(c.env.PartnerID, c.env.LeadID), Value: v}, true, nil
	}
	return worker.Output{}, false, nil
}

// attributionID derives the id of a conversion's attribution from the
// partner and the policy event id, never the event id alone: two partners
// may use the same event ids, and commission derives line ids and its paid
// record from this id.
func attributionID(partnerID, policyEventID string) string {
	return uuid.NewSHA1(attributionSpace, []byte(schemas.Scoped(partnerID, policyEventID))).String()
}

func (c conversion) attributionID() string { return attributionID(c.PartnerID, c.EventID) }

// cancellationID derives the id of a forwarded cancellation from the partner
// and the policy.cancelled event id.
func cancellationID(partnerID, cancelEventID string) string {
	return uuid.NewSHA1(attributionSpace, []byte("cancel|"+schemas.Scoped(partnerID, cancelEventID))).String()
}

func touchpoint(t Touch, w map[string]int, excluded bool) schemas.Touchpoint {
	return schemas.Touchpoint{EventID: t.EventID, ReferrerID: t.ReferrerID, ReferrerType: t.ReferrerType,
		Channel: t.Channel, OccurredAt: t.OccurredAt, ReceivedAt: t.ReceivedAt, Excluded: excluded, Weights: w}
}
