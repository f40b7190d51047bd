// Package dedupe is the stage that drops repeated events: referrals.valid →
// referrals.unique.
//
// The dedupe key is partner_id + idempotency_key when the partner gave one,
// else partner_id + event_id: ids mean nothing without their partner, so one
// partner's ids can never make another's events vanish.
//
// The Deduper is a worker.Stateful: its claims and lead statuses are the
// stage's worker.State, keyed by the input partition of the record (records
// are keyed by schemas.LeadKey, so every event of one partner's lead shares
// a partition). The contract that follows from the State:
//
//   - A claim names the record that made it (topic/partition/offset). A key
//     nobody holds is claimed and the record passes; a key held by the
//     record itself passes again (it was re-consumed after its claim
//     committed: a plain SET NX would drop it as a copy of itself); a key
//     held by any other record is a duplicate and is dropped.
//   - Lead statuses are checked against the lifecycle per (partner_id,
//     lead_id), in record order, each record seeing the statuses set by the
//     ones before it in the batch; an illegal step is a dead letter.
//   - Claims and statuses become visible only when the batch's Kafka
//     transaction commits (with their changelog records). An aborted batch
//     leaves nothing, so its redo decides exactly as the first attempt did;
//     no decision reads the clock.
//   - Losing Redis loses nothing: before a batch reads, the runtime replays
//     the changelog into Redis, so resent copies stay duplicates and a lead
//     keeps its status.
//
// Claims and statuses expire after --dedupe-ttl; ClickHouse's
// ReplacingMergeTree on event_id is the backstop past that window.
package dedupe
