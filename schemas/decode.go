package schemas

import jsonv2 "github.com/go-json-experiment/json"

// Decode reads JSON that reftrack's own stages produced (events after
// validate, attribution and commission payloads, stored touchpoints). It is
// encoding/json v2: two to three times faster than encoding/json on these
// shapes and with fewer allocations, which matters because every stage
// decodes every event. v2 matches names exactly and refuses duplicate names
// and invalid UTF-8; validate guarantees all three before an event gets
// here. BenchmarkJSON is the measurement; DecodeEvent is how a stage reads
// a record, envelope and typed payload at once.
//
// Input from outside (partner HTTP bodies, rule, licence and FX files,
// keyrings) keeps encoding/json with DisallowUnknownFields, or validate's
// jsoncheck for partner events: strict, and not on the hot path.
func Decode(raw []byte, v any) error {
	return jsonv2.Unmarshal(raw, v)
}
