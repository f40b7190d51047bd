-- Issue #18: whatif prices history as the commission stage did, licences,
-- carrier appointments and FX included, so every attributions row keeps
-- the policy terms those read: its jurisdiction and carrier (policy.issued
-- v2; '' for v1), its effective (sale) date as YYYY-MM-DD (a String like
-- commission_entries.hold_until), and the attribution's receipt in epoch
-- milliseconds (18.16 has no DateTime64), which an FX rate is looked up as
-- of (0: not known, read as converted_at). Rows written before get the
-- defaults, so whatif prices them unchecked, as the stage did for v1
-- policies. One statement per column, as ClickHouse 18.16 has no ADD
-- COLUMN IF NOT EXISTS: should one fail, apply the rest by hand before
-- re-running the migration. The policyholder_ref of v2 is deliberately
-- not a column (a person's id: PRIVACY.md).
ALTER TABLE attributions
    ADD COLUMN jurisdiction String DEFAULT '';

ALTER TABLE attributions
    ADD COLUMN carrier String DEFAULT '';

ALTER TABLE attributions
    ADD COLUMN effective_date String DEFAULT '';

ALTER TABLE attributions
    ADD COLUMN received_at_ms UInt64 DEFAULT 0;
