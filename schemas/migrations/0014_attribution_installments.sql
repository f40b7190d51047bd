-- Issue #18, installments: whatif prices an installment as the commission
-- stage did, on the installment's own premium and under rules that read
-- its number, so every attributions row keeps the installment of its
-- policy.issued (v2, sale_type installment): its number, how many the
-- policy is paid in, and its premium in minor units of currency. 0 on
-- other sales and on rows written before. premium_minor stays the annual
-- premium. One statement per column, as ClickHouse 18.16 has no ADD
-- COLUMN IF NOT EXISTS: should one fail, apply the rest by hand before
-- re-running the migration.
ALTER TABLE attributions
    ADD COLUMN installment_number UInt16 DEFAULT 0;

ALTER TABLE attributions
    ADD COLUMN installment_count UInt16 DEFAULT 0;

ALTER TABLE attributions
    ADD COLUMN installment_premium_minor Int64 DEFAULT 0;
