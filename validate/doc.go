// Package validate is the stage that checks every ingested event: the JSON
// Schema of its event type and version (draft 2020-12), normalization
// (emails, phones to E.164, names, aliases) and the money rules a schema
// cannot express. The checking itself is schemas/validation, which ingest's
// synchronous check uses with the same configuration; this package is the
// stage around it.
//
// Reads referrals.ingested; writes valid events normalized (or, when
// nothing needed normalizing, as sent minus white space), keyed by the
// tenant-scoped lead, to referrals.valid; rejects go to referrals.rejected
// with the original bytes and every reason found (not just the first), each
// with a JSON pointer. The stage is pure and deterministic, so replays after
// an aborted transaction produce the same outputs.
package validate
