package schemas

import jsonv1 "github.com/go-json-experiment/json/v1"

// Encode is encoding/json's Marshal, byte for byte for valid UTF-8
// (TestEncodeAsEncodingJSON holds it to that on every event type; invalid
// UTF-8 becomes a raw U+FFFD instead of "\ufffd", the same JSON string),
// on the v2 engine: about 30 % less
// CPU and 40 % fewer allocations for an attribution, whose per-touch weight
// maps and copied payload made encoding/json a fifth of attribute's time.
// Stages use it for what they produce; values with encoding/json.Number in
// them (validate's decoded events) keep encoding/json, which this one
// would write as strings.
func Encode(v any) ([]byte, error) {
	return jsonv1.Marshal(v)
}
