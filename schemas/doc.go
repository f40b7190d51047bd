// Package schemas is reftrack's contract with the outside world and between
// its own stages: topic names, the event envelope and payload types, the JSON
// Schemas that partner events must satisfy (embedded, draft 2020-12) and the
// ClickHouse migrations that analysts query.
//
// Everything here is data or plain types. Changing a schema or a topic name is
// a contract change: add a new schema_version rather than editing a published
// one, so that events already in Kafka keep validating the way they did.
package schemas
