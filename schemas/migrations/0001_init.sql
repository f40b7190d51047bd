-- reftrack tables. Written for the subset that ClickHouse 18.16 and current
-- releases share: no LowCardinality, no DateTime64, no TTL.
-- Every row keeps the Kafka topic/partition/offset it came from: the sink
-- resumes from max(kafka_offset)+1, and auditors can trace a row to its record.
-- ReplacingMergeTree collapses a re-inserted row with the same sorting key,
-- keeping the highest version where a table has one (a corrected
-- attribution and its lines supersede the earlier ones); read money with FINAL.

CREATE TABLE IF NOT EXISTS referral_events (
    event_id String,
    event_type String,
    schema_version UInt16,
    partner_id String,
    lead_id String,
    occurred_at DateTime,
    occurred_at_ms UInt64,
    received_at DateTime,
    received_at_ms UInt64,
    idempotency_key String,
    referrer_id String,
    referrer_type String,
    channel String,
    status String,
    policy_id String,
    product_line String,
    currency String,
    premium_minor Int64,
    payload String,
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (partner_id, event_type, lead_id, event_id);

CREATE TABLE IF NOT EXISTS rejected_events (
    stage String,
    source_topic String,
    source_partition Int32,
    source_offset Int64,
    reason_codes Array(String),
    reason_pointers Array(String),
    reason_messages Array(String),
    record_key String,
    original String,
    failed_at DateTime,
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(failed_at)
ORDER BY (stage, source_topic, source_partition, source_offset);

CREATE TABLE IF NOT EXISTS attributions (
    attribution_id String,
    version Int64,
    policy_event_id String,
    policy_id String,
    partner_id String,
    lead_id String,
    product_line String,
    sale_type String,
    currency String,
    premium_minor Int64,
    term_months UInt16,
    converted_at DateTime,
    model String,
    paid UInt8,
    touch_count UInt16,
    touch_event_id String,
    referrer_id String,
    referrer_type String,
    channel String,
    touched_at DateTime,
    excluded UInt8,
    weight_bp UInt16,
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(converted_at)
ORDER BY (partner_id, referrer_id, attribution_id, model, touch_event_id);

CREATE TABLE IF NOT EXISTS commission_lines (
    line_id String,
    attribution_id String,
    attribution_version Int64,
    policy_id String,
    partner_id String,
    lead_id String,
    payee_id String,
    payee_type String,
    product_line String,
    sale_type String,
    currency String,
    premium_minor Int64,
    policy_commission_minor Int64,
    weight_bp UInt16,
    amount_minor Int64,
    rule_set_version String,
    rule_id String,
    model String,
    kind String,
    source_line_id String,
    converted_at DateTime,
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(attribution_version)
PARTITION BY toYYYYMM(converted_at)
ORDER BY (payee_id, converted_at, line_id);
