-- Results of the data-driven attribution command (attribute/cmd/datadriven):
-- one row per run, method and channel (or referrer type).
CREATE TABLE IF NOT EXISTS attribution_data_driven (
    run_id String,
    run_at DateTime,
    method String,
    dimension String,
    channel String,
    removal_effect Float64,
    share Float64,
    conversions Float64,
    paths UInt64,
    converted UInt64,
    window_start DateTime,
    window_end DateTime
) ENGINE = MergeTree
PARTITION BY toYYYYMM(run_at)
ORDER BY (run_at, method, dimension, channel);
