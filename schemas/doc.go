// Package schemas is reftrack's contract with the outside world and between
// its own stages: topic names, the event envelope and payload types, the JSON
// Schemas that partner events must satisfy (embedded, draft 2020-12) and the
// ClickHouse migrations that analysts query.
//
// Everything here is data or plain types. Changing a schema or a topic name is
// a contract change: add a new schema_version rather than editing a published
// one, so that events already in Kafka keep validating the way they did.
//
// Stages read the pipeline's events at one boundary: DecodeEvent decodes a
// record's envelope and its typed payload once (Event.Body is a pointer to
// the payload type NewBody names), and a stage switches on Body's Go type.
// The pipeline's own JSON is read with Decode (go-json-experiment, v2
// semantics) and written with Encode (encoding/json's bytes on the same
// engine), the pair BenchmarkJSON measured against encoding/json; input
// from outside (partner bodies, rule, licence and FX files, keyrings) keeps
// encoding/json with DisallowUnknownFields.
package schemas
