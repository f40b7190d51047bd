// Package dedupe is the stage that drops repeated events: referrals.valid →
// referrals.unique.
//
// The dedupe key is partner_id + idempotency_key when the partner gave one,
// else partner_id + event_id: ids mean nothing without their partner, so one
// partner's ids can never make another's events vanish. Each key is claimed in Redis by one atomic script whose
// stored value names the claiming record (topic/partition/offset), pipelined
// for the whole batch. A record re-processed after an aborted transaction
// finds its own claim and passes again; a copy at any other offset is a
// duplicate. (A plain SET NX would make the replay look like a duplicate of
// itself and lose the event.) Claims expire after --dedupe-ttl; ClickHouse's
// ReplacingMergeTree on event_id is the backstop past that window and for
// the last second of writes Redis may lose in a crash.
//
// Lead statuses are checked against the lifecycle per (partner_id, lead_id),
// and every record goes on keyed by schemas.LeadKey, so one partner cannot
// move another's lead.
package dedupe
