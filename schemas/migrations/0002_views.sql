-- Views for analysts. They read with FINAL, so superseded attribution
-- versions and replayed rows never count.

-- Credit per referrer per model per month: conversions credited (weights in
-- basis points summed, / 10 000) and premium credited, per currency.
CREATE VIEW IF NOT EXISTS attribution_credit_monthly AS
SELECT
    toStartOfMonth(converted_at) AS month,
    model,
    referrer_type,
    referrer_id,
    currency,
    count() AS touches,
    sum(weight_bp) / 10000 AS conversions_credited,
    intDiv(sum(premium_minor * weight_bp), 10000) AS premium_credited_minor
FROM attributions FINAL
WHERE touch_event_id != ''
GROUP BY month, model, referrer_type, referrer_id, currency;

-- Commission owed per payee per month and currency, in minor units.
CREATE VIEW IF NOT EXISTS commission_owed_monthly AS
SELECT
    toStartOfMonth(converted_at) AS month,
    payee_type,
    payee_id,
    currency,
    count() AS lines,
    sum(amount_minor) AS amount_minor
FROM commission_lines FINAL
GROUP BY month, payee_type, payee_id, currency;

-- Commission by rule (what each rule of each rule-set version paid) per month.
CREATE VIEW IF NOT EXISTS commission_by_rule_monthly AS
SELECT
    toStartOfMonth(converted_at) AS month,
    rule_set_version,
    rule_id,
    kind,
    currency,
    count() AS lines,
    sum(amount_minor) AS amount_minor
FROM commission_lines FINAL
GROUP BY month, rule_set_version, rule_id, kind, currency;

-- Clawbacks: negative lines reversing part of an earlier line, dated by the
-- cancellation.
CREATE VIEW IF NOT EXISTS commission_clawbacks AS
SELECT converted_at AS cancelled_at, payee_type, payee_id, policy_id, currency,
       amount_minor, source_line_id, rule_set_version, attribution_id
FROM commission_lines FINAL
WHERE kind = 'clawback';
