package ingest

import (
	"context"
	"fmt"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
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

// ProcessBatch implements worker.Processor: each record is stamped and
// checked on its own, then the contacts of the whole batch are sealed with
// one key store call (two round trips whatever the batch size). A contact
// that cannot be sealed is a dead letter; a key store failure aborts the
// batch, to be retried: the clear contact is never produced instead.
func (in *Inbound) ProcessBatch(ctx context.Context, batch []worker.Message) ([]worker.Result, error) {
	results := make([]worker.Result, len(batch))
	var admitted []Stamped
	var at []int
	for i, m := range batch {
		s, err := in.admitSafe(m)
		if err != nil {
			results[i].Err = err
			continue
		}
		admitted, at = append(admitted, s), append(at, i)
	}
	errs, err := in.sealAll(ctx, admitted)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		if results[i].Err = errs[j]; errs[j] == nil {
			s := admitted[j]
			results[i].Out = []worker.Output{{Topic: schemas.TopicIngested, Key: s.Key, Value: s.Value}}
		}
	}
	return results, nil
}

// Process is ProcessBatch for one record.
func (in *Inbound) Process(ctx context.Context, m worker.Message) ([]worker.Output, error) {
	rs, err := in.ProcessBatch(ctx, []worker.Message{m})
	if err != nil {
		return nil, err
	}
	return rs[0].Out, rs[0].Err
}

// admit stamps a record and checks who sent it. On a partner's topic the
// partner is the topic's: filled in when the event has none (before its id
// is derived, so two partners' identical bytes get two ids), a dead letter
// when it names another. Records on the shared topic are trusted to name
// their partner.
func (in *Inbound) admit(m worker.Message) (Stamped, error) {
	now := in.Now()
	partner, own := schemas.PartnerOfInboundTopic(m.BareTopic)
	s, err := StampFor(m.Value, now, partner)
	if err != nil {
		return Stamped{}, err
	}
	if own && s.PartnerID != partner {
		// The claimed partner is not echoed: dead letters reach ClickHouse.
		return Stamped{}, worker.Reject(CodePartnerMismatch, "/partner_id", "partner_id must be %s, the partner whose inbound topic this is", partner)
	}
	if err := CheckReferralToken(in.Tokens, s, now); err != nil {
		return Stamped{}, err
	}
	return s, nil
}

// admitSafe is admit with a panic turned into a dead letter, as
// worker.Func does: a poison record must not crash-loop the worker.
func (in *Inbound) admitSafe(m worker.Message) (s Stamped, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = worker.Permanent(fmt.Errorf("panic processing record: %v\n%s", p, debug.Stack()))
		}
	}()
	return in.admit(m)
}

// sealAll seals the admitted records' contacts in place; errs[j] is
// record j's dead letter, err the key store's failure. Should sealing the
// batch panic, each record is sealed alone, so that only the poison one
// is dead-lettered.
func (in *Inbound) sealAll(ctx context.Context, admitted []Stamped) (errs []error, err error) {
	errs = make([]error, len(admitted))
	if in.Sealer == nil || len(admitted) == 0 {
		return errs, nil
	}
	clear := slices.Clone(admitted)
	reasons, err := in.sealSafe(ctx, admitted)
	if worker.IsPermanent(err) && len(admitted) > 1 {
		copy(admitted, clear)
		for j := range admitted {
			if errs[j], err = in.sealAllOne(ctx, admitted[j:j+1]); err != nil {
				return nil, err
			}
		}
		return errs, nil
	}
	if worker.IsPermanent(err) {
		errs[0] = err
		return errs, nil
	}
	if err != nil {
		return nil, err
	}
	for j, rs := range reasons {
		if len(rs) > 0 {
			errs[j] = &worker.RejectError{Reasons: withoutValues(rs)}
		}
	}
	return errs, nil
}

// sealAllOne is sealAll of one record: its dead letter, or the key store's
// failure.
func (in *Inbound) sealAllOne(ctx context.Context, one []Stamped) (dead, err error) {
	errs, err := in.sealAll(ctx, one)
	if err != nil {
		return nil, err
	}
	return errs[0], nil
}

// sealSafe is Sealer.SealEach with a panic turned into a permanent error.
func (in *Inbound) sealSafe(ctx context.Context, events []Stamped) (reasons [][]schemas.Reason, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = worker.Permanent(fmt.Errorf("panic sealing a contact: %v\n%s", p, debug.Stack()))
		}
	}()
	return in.Sealer.SealEach(ctx, events)
}

// withoutValues words the reasons about the contact without the value
// they refuse (validate's messages quote it): a dead letter's reasons
// travel in the clear, in its value and its error header, where sealing
// the original cannot reach them.
func withoutValues(rs []schemas.Reason) []schemas.Reason {
	out := make([]schemas.Reason, len(rs))
	for i, r := range rs {
		if r.Pointer == "/payload/lead" || strings.HasPrefix(r.Pointer, "/payload/lead/") {
			r.Message = "the value at " + r.Pointer + " is refused (" + r.Code + "); it is personal data and is not repeated here"
		}
		out[i] = r
	}
	return out
}
