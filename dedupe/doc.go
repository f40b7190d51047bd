// Package dedupe is the stage that drops repeated events: referrals.valid →
// referrals.unique.
//
// The dedupe key is partner_id + idempotency_key when the partner gave one,
// else event_id. Each key is claimed in Redis by one atomic script whose
// stored value names the claiming record (topic/partition/offset), pipelined
// for the whole batch. A record re-processed after an aborted transaction
// finds its own claim and passes again; a copy at any other offset is a
// duplicate. (A plain SET NX would make the replay look like a duplicate of
// itself and lose the event.) Claims expire after --dedupe-ttl; ClickHouse's
// ReplacingMergeTree on event_id is the backstop past that window and for
// the last second of writes Redis may lose in a crash.
package dedupe
