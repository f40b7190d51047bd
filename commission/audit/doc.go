// Package audit makes the commission journal answerable: a tamper-evident
// hash chain over its entries, its verification against what ClickHouse
// stores, and the "why this amount" derivation of one entry.
//
// The chain. The commission stage seals every entry it emits (Seal) into
// the chain of its input partition: ChainSeq counts from 1 without gaps,
// PrevHash is the Hash of the entry before, and
//
//	Hash = hex(SHA-256(PrevHash || Canonical(entry)))
//
// where Canonical is schemas.Encode of the entry with PrevHash and Hash
// empty (PrevHash enters as its hex text). Chain and ChainSeq are inside the
// canonical bytes, so moving an entry to another place breaks the chain too.
// Every field of the canonical form is a column of commission_entries, so a
// row alone reproduces its bytes (Read): changing any stored field of an
// entry, removing an entry from the middle of a chain, or forging one
// breaks the link at that entry, and Verify names it.
//
// What the chain cannot show on its own: entries cut off the end of a chain
// (the chain's head lives in the stage's state, key "chain" of each
// partition, and on the commissions topic), a chain rewritten from the
// tampered entry to its end with recomputed hashes (compare the last hash
// with the stage's head), and a chain whose start was dropped (retention by
// DROP PARTITION: verify then reports its first entry's chain_seq).
package audit
