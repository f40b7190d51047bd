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
package ingest
