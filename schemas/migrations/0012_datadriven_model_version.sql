-- Issue #18: data-driven payouts. An attribution paid by a trained markov or
-- shapley model (attribute --datadriven-model) records the model's version,
-- and so does every commission entry of it (JournalEntry.model_version; it
-- enters the entry's canonical bytes, so verify must read it back). Strings,
-- so '' reads back as the omitted field; rows written before get ''. One
-- statement per table, as ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS:
-- should the second fail, apply it by hand before re-running the migration.
ALTER TABLE attributions
    ADD COLUMN model_version String DEFAULT '';

ALTER TABLE commission_entries
    ADD COLUMN model_version String DEFAULT '';
