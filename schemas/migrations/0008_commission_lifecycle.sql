-- Issue #13: the commission lifecycle (pending → held → approved → paid, or
-- declined). Two fields of the journal entry, so columns: hold_until (an
-- accrual's end of hold, YYYY-MM-DD; a String like cancelled_on, so '' reads
-- back as the empty field it was hashed as) and decision (approve | decline
-- on a decision entry). Both enter the canonical bytes of the hash chain, so
-- verify reads them back. Rows written before this migration get ''. One
-- statement, as ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS.
ALTER TABLE commission_entries
    ADD COLUMN hold_until String DEFAULT '',
    ADD COLUMN decision String DEFAULT '';

-- The lifecycle state of every entry, derived when queried (today() is the
-- query's day): nothing stores a state, so a decision, a delivery or the end
-- of a hold never rewrites a row. An entry takes the state of the accrual it
-- belongs to (itself, or the accrual it corrects: reversals, clawbacks,
-- reinstatements and decisions follow their accrual), in this order:
--   declined  a decline decision corrects the accrual (its reversal too);
--   paid      the entry's payee, currency and period have a payout_deliveries row;
--   approved  an approve decision corrects the accrual, or the entry is an adjustment;
--   pending   the accrual has no hold_until (journaled before the lifecycle);
--   held      today is before hold_until;
--   approved  otherwise (the hold has passed).
-- commission.Status is the same rule in Go. Nested, because 18.16 joins one
-- table per SELECT.
CREATE VIEW IF NOT EXISTS commission_entry_status AS
SELECT
    entry_id, kind, payee_type, payee_id, currency, amount_minor, period, accrual_id, hold_until,
    declined, approved, paid,
    multiIf(declined = 1, 'declined', paid = 1, 'paid', approved = 1 OR kind = 'adjustment', 'approved',
            hold_until = '', 'pending', toString(today()) < hold_until, 'held', 'approved') AS status
FROM (
    SELECT * FROM (
        SELECT * FROM (
            SELECT entry_id, kind, payee_type, payee_id, currency, amount_minor, period,
                   if(kind = 'accrual', entry_id, corrects) AS accrual_id
            FROM commission_entries FINAL
        ) ANY LEFT JOIN (
            SELECT entry_id AS accrual_id, hold_until FROM commission_entries FINAL WHERE kind = 'accrual'
        ) USING accrual_id
    ) ANY LEFT JOIN (
        SELECT corrects AS accrual_id, max(decision = 'decline') AS declined, max(decision = 'approve') AS approved
        FROM commission_entries FINAL WHERE kind = 'decision' GROUP BY corrects
    ) USING accrual_id
) ANY LEFT JOIN (
    SELECT payee_type, payee_id, currency, period, toUInt8(1) AS paid
    FROM payout_deliveries GROUP BY payee_type, payee_id, currency, period
) USING (payee_type, payee_id, currency, period);
