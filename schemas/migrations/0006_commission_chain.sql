-- Tamper evidence for the commission journal: every entry is hash-chained
-- per commission input partition (chain), in the order the stage emitted
-- it (chain_seq, from 1, no gaps). hash = hex(SHA-256(prev_hash ||
-- canonical bytes)), the canonical bytes being the JSON of the entry with
-- prev_hash and hash empty; every field of that form is a column of this
-- table, so `verify` recomputes each hash from the row alone. Rows written
-- before this migration have chain_seq 0 and no chain. One statement, as
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: it applies whole or not.
ALTER TABLE commission_entries
    ADD COLUMN chain Int32 DEFAULT 0,
    ADD COLUMN chain_seq Int64 DEFAULT 0,
    ADD COLUMN prev_hash String DEFAULT '',
    ADD COLUMN hash String DEFAULT '';
