package attribute

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// CodeUndecodable rejects records that are not event envelopes or whose
// payload does not decode; validate should have stopped them.
const CodeUndecodable = "undecodable_event"

// attributionSpace namespaces attribution ids derived from policy event ids.
var attributionSpace = uuid.MustParse("a7b1d0c4-3a5e-4e0e-8f57-9d8f1c2b6e10")

// Attributor is the stage's Processor.
type Attributor struct {
	Redis     redis.UniversalClient
	Prefix    string
	Lookback  time.Duration
	PaidModel string
	Metrics   *Metrics
}

type decoded struct {
	env    schemas.Envelope
	touch  *Touch
	policy *schemas.PolicyIssued
}

// ProcessBatch implements worker.Processor in two pipelined round trips:
// first every touchpoint of the batch is stored, then every conversion reads
// its lead's touchpoints.
func (a *Attributor) ProcessBatch(ctx context.Context, batch []worker.Message) ([]worker.Result, error) {
	results := make([]worker.Result, len(batch))
	events := make([]decoded, len(batch))
	write := a.Redis.Pipeline()
	var writes, convs int
	for i, m := range batch {
		d, err := decode(m.Value)
		if err != nil {
			results[i].Err = err
			continue
		}
		events[i] = d
		switch {
		case d.touch != nil:
			writes++
			a.storeTouch(ctx, write, d.env.LeadID, *d.touch)
		case d.policy != nil:
			convs++
		}
	}
	if writes > 0 {
		if _, err := write.Exec(ctx); err != nil {
			return nil, fmt.Errorf("store %d touchpoints: %w", writes, err)
		}
	}
	if convs == 0 {
		return results, nil
	}

	read := a.Redis.Pipeline()
	ids := make([]*redis.StringSliceCmd, len(batch))
	for i, d := range events {
		if d.policy == nil {
			continue
		}
		end := d.env.OccurredAt.UnixMilli()
		ids[i] = read.ZRangeByScore(ctx, a.touchKey(d.env.LeadID), &redis.ZRangeBy{
			Min: strconv.FormatInt(end-a.Lookback.Milliseconds(), 10), Max: strconv.FormatInt(end, 10),
		})
	}
	if _, err := read.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read touchpoints of %d conversions: %w", convs, err)
	}
	details := a.Redis.Pipeline()
	vals := make([]*redis.SliceCmd, len(batch))
	for i, cmd := range ids {
		if cmd != nil && len(cmd.Val()) > 0 {
			vals[i] = details.HMGet(ctx, a.detailKey(events[i].env.LeadID), cmd.Val()...)
		}
	}
	if _, err := details.Exec(ctx); err != nil && err != redis.Nil {
		return nil, fmt.Errorf("read touchpoint details: %w", err)
	}
	for i, d := range events {
		if d.policy == nil {
			continue
		}
		var touches []Touch
		if vals[i] != nil {
			for _, v := range vals[i].Val() {
				s, ok := v.(string)
				if !ok {
					// Details expired a moment before the index did; the
					// touch is past the lookback either way.
					a.Metrics.missingDetails.Inc()
					continue
				}
				var t Touch
				if err := json.Unmarshal([]byte(s), &t); err != nil {
					return nil, fmt.Errorf("decode touchpoint of lead %s: %w", d.env.LeadID, err)
				}
				touches = append(touches, t)
			}
		}
		out, err := a.attribute(d.env, *d.policy, touches)
		if err != nil {
			results[i].Err = err
			continue
		}
		results[i].Out = []worker.Output{out}
	}
	return results, nil
}

func (a *Attributor) touchKey(lead string) string  { return a.Prefix + "tp:" + lead }
func (a *Attributor) detailKey(lead string) string { return a.Prefix + "tpd:" + lead }

func (a *Attributor) storeTouch(ctx context.Context, p redis.Pipeliner, lead string, t Touch) {
	b, _ := json.Marshal(t) // plain struct of strings and a time: cannot fail
	p.ZAdd(ctx, a.touchKey(lead), redis.Z{Score: float64(t.OccurredAt.UnixMilli()), Member: t.EventID})
	p.HSet(ctx, a.detailKey(lead), t.EventID, b)
	// The lead's keys live as long as its newest touch can still count.
	p.Expire(ctx, a.touchKey(lead), a.Lookback)
	p.Expire(ctx, a.detailKey(lead), a.Lookback)
}

func decode(raw []byte) (decoded, error) {
	var d decoded
	if err := json.Unmarshal(raw, &d.env); err != nil {
		return d, worker.Reject(CodeUndecodable, "", "not an event envelope: %v", err)
	}
	switch d.env.EventType {
	case schemas.TypeReferralCreated:
		var p schemas.ReferralCreated
		if err := json.Unmarshal(d.env.Payload, &p); err != nil {
			return d, worker.Reject(CodeUndecodable, "/payload", "%v", err)
		}
		d.touch = &Touch{EventID: d.env.EventID, ReferrerID: p.Referrer.ID, ReferrerType: p.Referrer.Type,
			Channel: p.Channel, OccurredAt: d.env.OccurredAt.UTC()}
	case schemas.TypePolicyIssued:
		var p schemas.PolicyIssued
		if err := json.Unmarshal(d.env.Payload, &p); err != nil {
			return d, worker.Reject(CodeUndecodable, "/payload", "%v", err)
		}
		d.policy = &p
	}
	return d, nil
}

// attribute weighs touches under every model and builds the output record.
func (a *Attributor) attribute(env schemas.Envelope, p schemas.PolicyIssued, touches []Touch) (worker.Output, error) {
	Order(touches)
	tps := make([]schemas.Touchpoint, len(touches))
	for i, t := range touches {
		tps[i] = schemas.Touchpoint{EventID: t.EventID, ReferrerID: t.ReferrerID, ReferrerType: t.ReferrerType,
			Channel: t.Channel, OccurredAt: t.OccurredAt, Weights: map[string]int{}}
	}
	for name, model := range Models {
		for i, w := range model(touches) {
			tps[i].Weights[name] = w
		}
	}
	if len(touches) == 0 {
		a.Metrics.unattributed.Inc()
	}
	payload, err := json.Marshal(schemas.AttributionCalculated{
		PolicyEventID: env.EventID, Policy: p, PaidModel: a.PaidModel, Touchpoints: tps,
	})
	if err != nil {
		return worker.Output{}, fmt.Errorf("encode attribution: %w", err)
	}
	out := schemas.Envelope{
		EventID:       uuid.NewSHA1(attributionSpace, []byte(env.EventID)).String(),
		EventType:     schemas.TypeAttributionCalculated,
		SchemaVersion: 1,
		OccurredAt:    env.OccurredAt,
		ReceivedAt:    env.ReceivedAt,
		PartnerID:     env.PartnerID,
		LeadID:        env.LeadID,
		Payload:       payload,
	}
	v, err := json.Marshal(out)
	if err != nil {
		return worker.Output{}, fmt.Errorf("encode attribution envelope: %w", err)
	}
	return worker.Output{Topic: schemas.TopicAttributions, Key: []byte(env.LeadID), Value: v}, nil
}
