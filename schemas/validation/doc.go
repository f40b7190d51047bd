// Package validation is the one check of a partner event, used by the
// validate stage on every record and by ingest's synchronous check on the
// typed endpoints, with one Config (the --phone-region flag is registered
// here), so the two can never read an event differently.
//
// Check returns an event's identifying envelope fields and its normalized
// bytes, or every reason it is invalid (the reasons of a dead letter, each
// with a code and a JSON pointer). It is pure: the same bytes and Config
// give the same answer, which is what makes a stage that uses it replayable.
//
// A lead's contact sealed by ingest (--pii-mode seal, internal/pii) is a
// ciphertext "enc:v1:…" in place of each clear value: the schema takes
// either form, and the normalizer leaves a value with SealedPrefix as it
// is (ingest normalized it before sealing).
//
// The JSON Schemas in schemas/jsonschema are the contract and
// jsonschema/v5 is their reference reading. Because v5 cost most of
// validate's CPU, the verdict on an event comes first from a checker
// compiled from v5's compiled schemas at start (fast.go) over a flat,
// nearly allocation-free parse of the bytes (tree.go); only an event that
// checker does not pass is decoded into a map and judged by v5, which names
// the reasons. The checker refuses at start any schema keyword it does not
// implement, and TestFastAgrees and FuzzFastAgrees hold it to v5's verdicts
// and to the same output bytes.
package validation
