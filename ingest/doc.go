// Package ingest is the pipeline's front door. Partners POST events to
// /v1/events (one JSON object or an array of them) or publish them to the
// referrals.inbound topic; both paths stamp the event the same way and
// produce it to referrals.ingested keyed by the tenant-scoped lead
// (schemas.LeadKey).
//
// Stamping: received_at is set to the ingest clock, and an event without an
// event_id gets one derived from its partner and its bytes (a UUIDv5 of
// their SHA-256), so a partner that retries the very same bytes gets the
// same id and dedupe drops the copy, and another partner's copy is its own. Ingest checks only that an event is a JSON object; the schema is
// validate's job. What ingest cannot stamp gets a 400 with a machine-readable
// reason over HTTP, or a dead letter on the Kafka path — never a silent drop.
//
// Personal data (--pii-mode seal, Sealer): once an event is stamped (its id
// derived from the partner's bytes first, so ids and dedupe do not depend
// on sealing), the lead's contact is checked by the validate stage's rules,
// normalized, and each field sealed under the lead's data key
// (internal/pii) before the event is produced, on both paths. A contact
// that cannot be sealed is refused; without the key store nothing is
// produced (503, or the Kafka batch retried), never the clear contact.
package ingest
