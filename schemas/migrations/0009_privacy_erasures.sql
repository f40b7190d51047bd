-- Issue #17: the audit trail of erasures (reftrack erase). One row per
-- attempt, written before the subject's data key is destroyed, so no key
-- is destroyed without a row. An attempt that failed after its row is run
-- again with the same erasure_id: both rows stay (an audit log is
-- append-only), and the row with had_key = 1 names the key destroyed. It
-- names the subject by its ids and the key by its id: no personal data.
-- Not partitioned: the table is small and the retention command never
-- drops it (it is the proof an erasure happened).
CREATE TABLE IF NOT EXISTS privacy_erasures (
    erasure_id String,
    partner_id String,
    lead_id String,
    data_key_id String,
    had_key UInt8,
    actor String,
    reason String,
    requested_at DateTime,
    inserted_at DateTime DEFAULT now()
) ENGINE = MergeTree
ORDER BY (partner_id, lead_id, requested_at, erasure_id);
