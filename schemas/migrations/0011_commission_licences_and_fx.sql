-- Issue #18: licence-aware pay and FX snapshots. Six fields of the journal
-- entry, so columns (each enters the canonical bytes of the hash chain, so
-- verify reads them back; Strings, so '' reads back as the omitted field):
-- licence_check ("licensed:US-CA:life" / "unlicensed:US-CA:life"), and the
-- payee's payout currency with the amount in it and the rate snapshot it
-- was converted with (fx_rate a decimal string, never a float; fx_as_of
-- RFC 3339). A payout statement sums payout_amount_minor (amount_minor
-- where payout_currency is ''). Rows written before get '' and 0. One
-- statement, as ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS.
ALTER TABLE commission_entries
    ADD COLUMN licence_check String DEFAULT '',
    ADD COLUMN payout_currency String DEFAULT '',
    ADD COLUMN payout_amount_minor Int64 DEFAULT 0,
    ADD COLUMN fx_rate String DEFAULT '',
    ADD COLUMN fx_source String DEFAULT '',
    ADD COLUMN fx_as_of String DEFAULT '';
