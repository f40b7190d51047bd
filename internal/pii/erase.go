package pii

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/schemas"
)

// TopicErasures (unprefixed) carries one record per erasure, keyed by the
// subject's schemas.LeadKey: the audit trail on Kafka, and the signal for
// anything that caches data keys to drop the subject's. Create it with
// cleanup.policy=delete and retention.ms=-1 (kept): it holds ids, no
// personal data.
const TopicErasures = "privacy.erasures"

// Erasure is the audit record of one erasure. It names the subject by its
// ids (pseudonymous) and the data key destroyed, never personal data.
type Erasure struct {
	ErasureID   string    `json:"erasure_id"`
	PartnerID   string    `json:"partner_id"`
	LeadID      string    `json:"lead_id"`
	DataKeyID   string    `json:"data_key_id"` // "" when the subject had no key
	HadKey      bool      `json:"had_key"`
	Actor       string    `json:"actor"`
	Reason      string    `json:"reason"`
	RequestedAt time.Time `json:"requested_at"`
}

// UnreadableKeyID is the DataKeyID of an erasure whose stored key entry
// could not be read (it is destroyed all the same).
const UnreadableKeyID = "unreadable"

// AuditLog records erasures where auditors look.
type AuditLog interface {
	RecordErasure(ctx context.Context, e Erasure) error
}

// Erase crypto-shreds a subject: it records the erasure in every audit
// log, then destroys the subject's data key. The record comes first, so
// no key is ever destroyed without a trace; a failure after it is fixed
// by running the erasure again with the same ErasureID (the audit logs
// keep both attempts). From the destruction on, every ciphertext of the
// subject, wherever it was copied, opens to ErrErased. Money and
// attribution records are untouched: they carry ids, not personal data.
func Erase(ctx context.Context, store DataKeyStore, audits []AuditLog, e Erasure) (Erasure, error) {
	s := Subject{Partner: e.PartnerID, Lead: e.LeadID}
	if err := s.validate(); err != nil {
		return e, err
	}
	if e.ErasureID == "" || e.Actor == "" || e.Reason == "" {
		return e, errors.New("pii: an erasure needs an id, an actor and a reason")
	}
	stored, err := store.Get(ctx, []string{s.Key()})
	if err != nil {
		return e, fmt.Errorf("look up the data key of %s: %w", s.Key(), err)
	}
	if stored[0] != "" {
		// A corrupt entry is destroyed all the same: nothing may stand
		// between a data subject and the erasure they asked for.
		e.DataKeyID, e.HadKey = UnreadableKeyID, true
		if w, err := parseWrapped(stored[0]); err == nil {
			e.DataKeyID = w.ID
		}
	}
	for _, a := range audits {
		if err := a.RecordErasure(ctx, e); err != nil {
			return e, fmt.Errorf("record the erasure of %s (nothing destroyed yet): %w", s.Key(), err)
		}
	}
	if _, err := store.Delete(ctx, s.Key()); err != nil {
		return e, fmt.Errorf("destroy the data key of %s (the erasure is recorded; run it again): %w", s.Key(), err)
	}
	return e, nil
}

// ClickHouseAudit writes erasures to the privacy_erasures table (migration
// 0009), which the retention command never drops.
type ClickHouseAudit struct{ Conn driver.Conn }

// RecordErasure implements AuditLog. ClickHouse 18.16 takes an INSERT
// from clickhouse-go only in the native block form, with its columns named.
func (a ClickHouseAudit) RecordErasure(ctx context.Context, e Erasure) error {
	batch, err := a.Conn.PrepareBatch(ctx, `INSERT INTO privacy_erasures
		(erasure_id, partner_id, lead_id, data_key_id, had_key, actor, reason, requested_at)`)
	if err == nil {
		err = batch.Append(e.ErasureID, e.PartnerID, e.LeadID, e.DataKeyID, boolByte(e.HadKey), e.Actor, e.Reason, e.RequestedAt.UTC())
	}
	if err == nil {
		err = batch.Send()
	}
	if err != nil {
		return fmt.Errorf("insert into privacy_erasures: %w", err)
	}
	return nil
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// KafkaAudit produces erasures to TopicErasures (with Prefix), waiting for
// every in-sync replica.
type KafkaAudit struct {
	Client *kgo.Client
	Prefix string
}

// RecordErasure implements AuditLog.
func (a KafkaAudit) RecordErasure(ctx context.Context, e Erasure) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode the erasure: %w", err)
	}
	rec := &kgo.Record{Topic: a.Prefix + TopicErasures, Key: schemas.LeadKey(e.PartnerID, e.LeadID), Value: b}
	if err := a.Client.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("produce the erasure to %s: %w", rec.Topic, err)
	}
	return nil
}
