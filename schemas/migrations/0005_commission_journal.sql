-- The commission journal: one row per commission.entry, never superseded.
-- Every change of money (accrual, reversal, clawback, reinstatement,
-- adjustment) is a new entry with an id derived from its cause, so a
-- payee's balance is the sum of its entries. ReplacingMergeTree without a
-- version is only the exactly-once guard for a row the sink wrote twice
-- (the same entry id, hence the same payee and period, collapses); two
-- different entries never share a sorting key. The views below read FINAL,
-- so analysts need not. commission_lines stays for lines written before.

CREATE TABLE IF NOT EXISTS commission_entries (
    entry_id String,
    kind String,
    payee_id String,
    payee_type String,
    currency String,
    amount_minor Int64,
    period Date,
    posted_at DateTime,
    corrects String,
    cause_id String,
    attribution_id String,
    attribution_version Int64,
    policy_id String,
    partner_id String,
    lead_id String,
    product_line String,
    sale_type String,
    model String,
    weight_bp UInt16,
    rule_set_version String,
    rule_id String,
    premium_minor Int64,
    base_minor Int64,
    rate String,
    band String,
    min_applied UInt8,
    cap_applied UInt8,
    residue_minor Int64,
    override_level UInt8,
    source_entry_id String,
    cancelled_on String,
    actor String,
    reason String,
    kafka_topic String,
    kafka_partition Int32,
    kafka_offset Int64,
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(period)
ORDER BY (payee_id, period, entry_id);

-- What moved each payee's balance per currency and accounting period: net_minor
-- is the sum of the period's entries, then the same by kind. (An alias must not
-- repeat a column another aggregate reads: ClickHouse 18.16 refuses that.)
CREATE VIEW IF NOT EXISTS commission_balances_by_period AS
SELECT
    payee_type,
    payee_id,
    currency,
    period,
    count() AS entries,
    sum(amount_minor) AS net_minor,
    sumIf(amount_minor, kind = 'accrual') AS accrued_minor,
    sumIf(amount_minor, kind = 'reversal') AS reversed_minor,
    sumIf(amount_minor, kind = 'clawback') AS clawed_back_minor,
    sumIf(amount_minor, kind = 'reinstatement') AS reinstated_minor,
    sumIf(amount_minor, kind = 'adjustment') AS adjusted_minor
FROM commission_entries FINAL
GROUP BY payee_type, payee_id, currency, period;

-- Balance per payee and currency over all periods.
CREATE VIEW IF NOT EXISTS commission_balances AS
SELECT
    payee_type,
    payee_id,
    currency,
    count() AS entries,
    sum(amount_minor) AS balance_minor,
    min(period) AS first_period,
    max(period) AS last_period
FROM commission_entries FINAL
GROUP BY payee_type, payee_id, currency;
