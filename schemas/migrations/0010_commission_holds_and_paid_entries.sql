-- Issue #13: statements hold back what is not approved, and named holds.
-- A statement now pays the entries released in its period (an accrual once
-- its hold ended or an admin approved it, an entry of an earlier period
-- included), so "paid" is no longer a property of a payee's period: the
-- statements command records the entries of each delivery here, after the
-- payout system accepted it and before its payout_deliveries row.
CREATE TABLE IF NOT EXISTS payout_delivery_entries (
    delivery_id String,
    entry_id String,
    delivered_at DateTime
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(delivered_at)
ORDER BY (entry_id, delivery_id);

-- The lifecycle view again (0008's), with named holds: a hold rule posts a
-- decision entry with decision = 'hold' on an accrual (reason: the hold's
-- reason, actor: rule:<hold id>@<rule set version>), which keeps it held
-- whatever its hold_until until an approve or decline decision. hold_reason
-- and held_by show the hold, released or not. An entry is paid when a
-- delivery recorded it in payout_delivery_entries, or, for a delivery
-- recorded before that table (no rows there), when its payee, currency and
-- period have that delivery. Order: declined, paid, approved (a decision,
-- or an adjustment), held by name, pending (no hold_until), held (before
-- hold_until), approved. commission.Status is the same rule in Go. Nested,
-- because 18.16 joins one table per SELECT.
DROP TABLE IF EXISTS commission_entry_status;

CREATE VIEW IF NOT EXISTS commission_entry_status AS
SELECT
    entry_id, kind, payee_type, payee_id, currency, amount_minor, period, accrual_id, hold_until, hold_reason, held_by,
    declined, approved, paid,
    multiIf(declined = 1, 'declined', paid = 1, 'paid', approved = 1 OR kind = 'adjustment', 'approved',
            hold_reason != '', 'held', hold_until = '', 'pending', toString(today()) < hold_until, 'held', 'approved') AS status
FROM (
    SELECT *, toUInt8(paid_entry = 1 OR paid_period = 1) AS paid FROM (
        SELECT * FROM (
            SELECT * FROM (
                SELECT * FROM (
                    SELECT entry_id, kind, payee_type, payee_id, currency, amount_minor, period,
                           if(kind = 'accrual', entry_id, corrects) AS accrual_id
                    FROM commission_entries FINAL
                ) ANY LEFT JOIN (
                    SELECT entry_id AS accrual_id, hold_until FROM commission_entries FINAL WHERE kind = 'accrual'
                ) USING accrual_id
            ) ANY LEFT JOIN (
                SELECT corrects AS accrual_id, max(decision = 'decline') AS declined, max(decision = 'approve') AS approved,
                       anyIf(reason, decision = 'hold') AS hold_reason, anyIf(actor, decision = 'hold') AS held_by
                FROM commission_entries FINAL WHERE kind = 'decision' GROUP BY corrects
            ) USING accrual_id
        ) ANY LEFT JOIN (
            SELECT entry_id, toUInt8(1) AS paid_entry FROM payout_delivery_entries FINAL GROUP BY entry_id
        ) USING entry_id
    ) ANY LEFT JOIN (
        SELECT payee_type, payee_id, currency, period, toUInt8(1) AS paid_period
        FROM payout_deliveries FINAL WHERE delivery_id NOT IN (SELECT delivery_id FROM payout_delivery_entries)
        GROUP BY payee_type, payee_id, currency, period
    ) USING (payee_type, payee_id, currency, period)
);

-- Period close counted complete: close-period writes a row here only after
-- the commission stage read past its close records on every partition and
-- the sink wrote the commissions topic up to where it ended then, so every
-- entry posted before the close is in commission_entries. statements
-- delivers a period only once it has a row here too (commission_period_closes
-- alone says the close reached the stage, not that its entries landed).
CREATE TABLE IF NOT EXISTS commission_period_closes_done (
    partner_id String,
    period Date,
    request_id String,
    actor String,
    done_at DateTime
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(period)
ORDER BY (partner_id, period, request_id);

-- Statements are per partner (payee ids are the partner's, and periods
-- close per partner): the delivery id includes the partner, and the
-- delivery row names it. Rows delivered before have ''.
ALTER TABLE payout_deliveries ADD COLUMN partner_id String DEFAULT '';
