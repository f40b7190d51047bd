// Package validate is the stage that checks every ingested event against the
// JSON Schema of its event type and version (schemas package, draft 2020-12,
// compiled once at start) plus the money rules a schema cannot express.
//
// Reads referrals.ingested; writes valid events unchanged, keyed by lead_id,
// to referrals.valid; rejects go to referrals.rejected with the original
// bytes and every reason found (not just the first), each with a JSON pointer.
// The stage is pure and deterministic, so replays after an aborted
// transaction produce the same outputs.
package validate
