package ingest

import (
	"context"
	"fmt"
	"strings"

	"github.com/reftrack/reftrack/internal/pii"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/jsoncheck"
)

// DeadLetterOriginals implements worker.OriginalKeeper: in seal mode, what
// ingest dead-letters on the Kafka path is the partner's record before
// sealing, so its dead letter would carry the clear contact to
// referrals.rejected, where no erasure reaches it. Each one keeps instead:
//   - the record with its lead's contact sealed (SealStable, so a redone
//     batch writes the same bytes) when the record names its lead: an
//     erasure of the lead reaches the dead letter too;
//   - the record as it came when it holds no contact;
//   - nothing but its size and digest (withheld) when it is not JSON, its
//     contact is not strings, or it names no lead whose key could seal it.
//
// The partner's own Kafka key is replaced by the lead's (schemas.LeadKey),
// or dropped: partners key by whatever they like, an email included.
// One key store call serves the whole batch; its failure aborts the batch.
func (in *Inbound) DeadLetterOriginals(ctx context.Context, msgs []worker.Message) ([]worker.Original, error) {
	out := make([]worker.Original, len(msgs))
	if in.Sealer == nil {
		for i, m := range msgs {
			out[i] = worker.Original{Key: m.Key, Value: m.Value}
		}
		return out, nil
	}
	locs := make([]*located, len(msgs))
	for i, m := range msgs {
		locs[i], out[i] = deadLetterContact(m)
	}
	keys, err := in.Sealer.keysFor(ctx, locs)
	if err != nil {
		return nil, err
	}
	for i, l := range locs {
		if l == nil {
			continue
		}
		if out[i].Value, err = l.sealAsSent(keys[l.subject]); err != nil {
			return nil, fmt.Errorf("seal the dead letter of %s/%d@%d: %w", msgs[i].Topic, msgs[i].Partition, msgs[i].Offset, err)
		}
	}
	return out, nil
}

// deadLetterContact finds the contact of a record to dead-letter and the
// lead it belongs to. A nil *located means nothing is left to seal: the
// Original returned is final.
func deadLetterContact(m worker.Message) (*located, worker.Original) {
	withheld := worker.Original{Withheld: true}
	top, err := jsoncheck.Members(m.Value)
	if err != nil {
		return nil, withheld
	}
	subject, named := deadLetterSubject(m.BareTopic, top)
	var key []byte
	if named {
		key = schemas.LeadKey(subject.Partner, subject.Lead)
	}
	l, err := locate(m.Value)
	if err != nil {
		return nil, withheld
	}
	if l == nil {
		return nil, worker.Original{Key: key, Value: m.Value}
	}
	for _, f := range contactPtrs(&l.contact) {
		if i := memberAt(l.lead, f.name); i >= 0 && l.lead[i].Value.Kind() != '"' {
			return nil, withheld // cannot be sealed in place, nor kept
		}
	}
	_ = l.read() // every member is a string; a sealed-looking one is sealed again
	if l.contact == (schemas.Contact{}) {
		return nil, worker.Original{Key: key, Value: m.Value}
	}
	if !named {
		return nil, withheld
	}
	l.subject = subject
	return l, worker.Original{Key: key}
}

// deadLetterSubject is the lead a record is about. The partner is the
// topic's on a partner's own topic, whatever the record claims: the
// partner who wrote the bytes is the one whose lead's data they hold.
func deadLetterSubject(bareTopic string, top []jsoncheck.Member) (pii.Subject, bool) {
	partner, own := schemas.PartnerOfInboundTopic(bareTopic)
	if !own {
		partner, _ = topString(top, "partner_id")
	}
	lead, _ := topString(top, "lead_id")
	if partner == "" || lead == "" || strings.Contains(partner, "|") {
		return pii.Subject{}, false
	}
	return pii.Subject{Partner: partner, Lead: lead}, true
}

// sealAsSent seals every present contact field as the partner sent it
// (it may have failed normalization) and puts it back in the record.
func (l *located) sealAsSent(k *pii.DataKey) ([]byte, error) {
	for _, f := range contactPtrs(&l.contact) {
		if *f.value == "" {
			continue
		}
		sealed, err := k.SealStable(f.name, *f.value)
		if err != nil {
			return nil, err
		}
		*f.value = sealed
	}
	return l.rewrite()
}
