// Package sink lands the pipeline's topics in ClickHouse: referrals.unique →
// referral_events, attributions → attributions, commissions →
// commission_lines, referrals.rejected → rejected_events.
//
// ClickHouse cannot join a Kafka transaction, so the sink gets exactly-once
// rows another way (worker.RunStore): each row stores its Kafka
// topic/partition/offset; each insert is one contiguous offset range of one
// partition; offsets are committed only after the insert; on assignment the
// sink resumes from max(kafka_offset)+1 read back from ClickHouse. The tables
// are ReplacingMergeTree keyed by the event or line id, and money is read
// with FINAL, as the last backstop.
//
// A record on an internal topic that cannot be decoded is not dropped and
// does not stall the sink: it becomes a rejected_events row of stage "sink"
// in the same write. PII (the lead's contact) is removed from the stored
// payload until field encryption lands.
package sink
