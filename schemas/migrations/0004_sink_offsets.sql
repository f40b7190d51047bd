-- Where the sink left off, per topic partition: written after each batch's
-- rows, so it never runs ahead of them. Resuming reads this instead of
-- scanning max(kafka_offset) of tables that grow without bound.
CREATE TABLE IF NOT EXISTS sink_offsets (
    topic String,
    partition Int32,
    next_offset Int64,
    written_at DateTime
) ENGINE = ReplacingMergeTree(next_offset)
ORDER BY (topic, partition);
