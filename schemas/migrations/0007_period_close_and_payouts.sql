-- Issue #13: period close and payout deliveries.
--
-- Accounting periods closed in the commission stage: one row per
-- commission.period_closed record, which close-period writes on every
-- partition of the attributions topic (each partition's stage state records
-- its own closes). A period is closed for a partner once rows of that
-- partner (or of '*', every partner) cover all `partitions` partitions;
-- statements deliver to the payout system only periods closed so. The
-- sorting key is the record's place in Kafka, so a row the sink wrote twice
-- collapses and two closes never do.
CREATE TABLE IF NOT EXISTS commission_period_closes (
    partner_id String,
    period Date,
    request_id String,
    actor String,
    partitions Int32,
    closed_at DateTime,
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(period)
ORDER BY (partner_id, period, kafka_topic, kafka_partition, kafka_offset);

-- Statements the payout system accepted: statements --webhook-url writes a
-- row after each delivery answered 2xx. An entry is paid when its payee,
-- currency and period have a row here. A re-run finds the row and sends
-- nothing; a statement whose total differs from its row (a closed period
-- that changed, which period close rules out) stops the run. A crash
-- between the delivery and this row re-sends the same delivery id and
-- total, which the payout system deduplicates.
CREATE TABLE IF NOT EXISTS payout_deliveries (
    delivery_id String,
    payee_type String,
    payee_id String,
    currency String,
    period Date,
    statement_number UInt32,
    total_minor Int64,
    entries UInt32,
    delivered_at DateTime
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(period)
ORDER BY (payee_id, period, delivery_id);
