// Package sink lands the pipeline's topics in ClickHouse: referrals.unique →
// referral_events, attributions → attributions, commissions →
// commission_lines, referrals.rejected → rejected_events.
//
// ClickHouse cannot join a Kafka transaction, so the sink gets exactly-once
// rows another way (worker.RunStore): each row stores its Kafka
// topic/partition/offset; a write holds one contiguous offset range per
// partition, in one INSERT per table (all at once) and then sink_offsets;
// offsets are committed only after the write; on assignment the sink resumes
// from what sink_offsets (or max(kafka_offset)+1) says ClickHouse holds. The
// tables are ReplacingMergeTree keyed by the event or line id, and money is
// read with FINAL, as the last backstop.
//
// ClickHouse 18.16 pays about 50 ms of CPU per INSERT and little per row, so
// a write gathers records for --flush-interval or up to --flush-records,
// not a transactional stage's --batch-max.
//
// A record on an internal topic that cannot be decoded is not dropped and
// does not stall the sink: it becomes a rejected_events row of stage "sink"
// in the same write. PII (the lead's contact) is removed from the stored
// payload until field encryption lands.
package sink
