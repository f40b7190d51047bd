package ingest

import (
	"context"
	"regexp"
	"time"

	"github.com/reftrack/reftrack/ingest/reftoken"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// CodePartnerMismatch rejects a record on a partner's inbound topic that
// names another partner: the topic's ACL says who wrote it, so the record's
// claim is either a mistake or an attempt to act for someone else.
const CodePartnerMismatch = "partner_mismatch"

// partnerInboundPattern matches every partner's inbound topic (unprefixed),
// in the shape schemas.InboundTopicFor gives them, so a new partner's topic
// is consumed without a restart.
var partnerInboundPattern = regexp.QuoteMeta(schemas.TopicInbound+".") + `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`

// Subscription implements worker.Subscriber: every partner's inbound topic,
// and the shared one when --inbound-shared is on.
func (a *App) Subscription() (topics, patterns []string) {
	if a.InboundShared {
		topics = []string{schemas.TopicInbound}
	}
	return topics, []string{partnerInboundPattern}
}

// Inbound is the Kafka path: referrals.inbound.<partner> (and the shared
// referrals.inbound) → referrals.ingested.
type Inbound struct {
	Now    func() time.Time
	Tokens *reftoken.Keys
	Sealer *Sealer // nil: contacts travel as sent (--pii-mode off)
}

// Process implements worker.Func. On a partner's topic the partner is the
// topic's: filled in when the event has none (before its id is derived, so
// two partners' identical bytes get two ids), a dead letter when it names
// another. Records on the shared topic are trusted to name their partner.
func (in *Inbound) Process(ctx context.Context, m worker.Message) ([]worker.Output, error) {
	now := in.Now()
	partner, own := schemas.PartnerOfInboundTopic(m.BareTopic)
	s, err := StampFor(m.Value, now, partner)
	if err != nil {
		return nil, err
	}
	if own && s.PartnerID != partner {
		// The claimed partner is not echoed: dead letters reach ClickHouse.
		return nil, worker.Reject(CodePartnerMismatch, "/partner_id", "partner_id must be %s, the partner whose inbound topic this is", partner)
	}
	if err := CheckReferralToken(in.Tokens, s, now); err != nil {
		return nil, err
	}
	if s, err = in.seal(ctx, s); err != nil {
		return nil, err
	}
	return []worker.Output{{Topic: schemas.TopicIngested, Key: s.Key, Value: s.Value}}, nil
}

// seal seals the record's contact. A contact that cannot be sealed is a
// dead letter; a key store failure aborts the batch, to be retried: the
// clear contact is never produced instead.
func (in *Inbound) seal(ctx context.Context, s Stamped) (Stamped, error) {
	if in.Sealer == nil {
		return s, nil
	}
	events := []Stamped{s}
	reasons, err := in.Sealer.Seal(ctx, events)
	if err != nil {
		return Stamped{}, err
	}
	if len(reasons[0]) > 0 {
		return Stamped{}, &worker.RejectError{Reasons: reasons[0]}
	}
	return events[0], nil
}
