package validation

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/jsoncheck"
)

func TestEveryTypeSchemaFolds(t *testing.T) {
	t.Parallel()
	docs := map[string]map[string]any{}
	files := schemas.JSONSchemas()
	for _, typ := range schemas.PartnerEventTypes {
		for _, name := range []string{schemas.SchemaFile(typ, 1), "envelope.v1.json"} {
			b, err := fs.ReadFile(files, name)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := jsoncheck.Decode(b)
			docs[name], _ = v.(map[string]any)
		}
		if _, ok := inlineEnvelope(docs[schemas.SchemaFile(typ, 1)], docs); !ok {
			t.Errorf("%s no longer folds into one schema: validate is slower for it", typ)
		}
	}
}

func TestInlineEnvelopeRefuses(t *testing.T) {
	t.Parallel()
	env := map[string]any{"type": "object", "additionalProperties": false,
		"properties": map[string]any{"a": map[string]any{"type": "string"}, "p": map[string]any{"type": "object"}}}
	docs := map[string]map[string]any{"env.json": env,
		"refenv.json": {"properties": map[string]any{"a": map[string]any{"$ref": "#/x"}}}}
	ref := []any{map[string]any{"$ref": "env.json"}}
	tests := []struct {
		name string
		doc  map[string]any
		ok   bool
	}{
		{"plain", map[string]any{"allOf": ref, "properties": map[string]any{"a": map[string]any{"const": "x"}}}, true},
		{"property the envelope lacks", map[string]any{"allOf": ref, "properties": map[string]any{"b": true}}, false},
		{"keyword beside allOf", map[string]any{"allOf": ref, "required": []any{"a"}}, false},
		{"two branches", map[string]any{"allOf": append(slices.Clone(ref), map[string]any{})}, false},
		{"fragment ref", map[string]any{"allOf": []any{map[string]any{"$ref": "env.json#/properties/p"}}}, false},
		{"unknown target", map[string]any{"allOf": []any{map[string]any{"$ref": "nope.json"}}}, false},
		{"target with refs", map[string]any{"allOf": []any{map[string]any{"$ref": "refenv.json"}}}, false},
		{"ref in own property", map[string]any{"allOf": ref, "properties": map[string]any{"a": map[string]any{"$ref": "x.json"}}}, false},
	}
	for _, tt := range tests {
		_, ok := inlineEnvelope(tt.doc, docs)
		if ok != tt.ok {
			t.Errorf("%s: folded = %v, want %v", tt.name, ok, tt.ok)
		}
	}
	// A property on both sides with a split keyword group is kept as allOf.
	doc := map[string]any{"allOf": ref, "properties": map[string]any{"p": map[string]any{"type": "object", "additionalProperties": false}}}
	docs["env.json"]["properties"].(map[string]any)["p"] = map[string]any{"type": "object", "properties": map[string]any{"q": true}}
	out, _ := inlineEnvelope(doc, docs)
	if _, ok := out["properties"].(map[string]any)["p"].(map[string]any)["allOf"]; !ok {
		t.Errorf("split properties/additionalProperties was merged: %v", out["properties"])
	}
}

// mutations returns variants of a valid event: every field of the envelope
// and payload removed, retyped or replaced with something a schema should
// judge, plus an unknown field at each level.
func mutations(raw string) []map[string]any {
	var out []map[string]any
	fresh := func() map[string]any { v, _ := jsoncheck.Decode([]byte(raw)); return v.(map[string]any) }
	values := []any{nil, true, json.Number("0"), json.Number("-1"), json.Number("1.5"), json.Number("121"), "", "x",
		"2026-13-01", "2026-11-01T10:00:00Z", "0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c11", "auto", "agent", "USD",
		"1200.50", "policy.issued", "referral.created", map[string]any{}, []any{}, string(make([]byte, 200))}
	levels := []func(map[string]any) map[string]any{
		func(m map[string]any) map[string]any { return m },
		func(m map[string]any) map[string]any { p, _ := m["payload"].(map[string]any); return p },
	}
	for _, level := range levels {
		keys := slices.Sorted(maps.Keys(level(fresh())))
		for _, k := range append(keys, "zz") {
			m := fresh()
			delete(level(m), k)
			out = append(out, m)
			for _, v := range values {
				m := fresh()
				level(m)[k] = v
				out = append(out, m)
			}
		}
	}
	return out
}

func verdicts(t testing.TB, a, b *Validator, doc any) {
	for key, sa := range a.schemas {
		ea, eb := sa.Validate(doc), b.schemas[key].Validate(doc)
		if (ea == nil) != (eb == nil) || fmt.Sprint(leafPointers(ea)) != fmt.Sprint(leafPointers(eb)) {
			j, _ := json.Marshal(doc)
			t.Fatalf("%v disagrees on %s:\nfolded:    %v\npublished: %v", key, j, ea, eb)
		}
	}
}

func leafPointers(err error) []string {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return nil
	}
	var ps []string
	for _, r := range leafReasons(ve) {
		ps = append(ps, r.Pointer)
	}
	slices.Sort(ps)
	return slices.Compact(ps)
}

// bothValidators compiles the schemas folded and as published.
func bothValidators(tb testing.TB) (folded, published *Validator) {
	tb.Helper()
	var err error
	if folded, err = newValidator(true); err == nil {
		published, err = newValidator(false)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return folded, published
}

func TestInlinedAgrees(t *testing.T) {
	t.Parallel()
	folded, published := bothValidators(t)
	n := 0
	for _, raw := range []string{created, status, issued, cancelled} {
		for _, doc := range mutations(raw) {
			verdicts(t, folded, published, doc)
			n++
		}
	}
	if n < 500 {
		t.Fatalf("only %d mutations", n)
	}
}

// FuzzInlinedAgrees holds the folded schemas to the published ones. Its
// inputs are sample events with one value replaced or deleted (see
// mutateSample), so each one reaches the schemas; raw fuzz bytes, which
// this target once took, were mostly not JSON and never got that far.
func FuzzInlinedAgrees(f *testing.F) {
	folded, published := bothValidators(f)
	samples := sampleEvents(f)
	f.Add(uint16(0), uint8(3), []byte(`"x"`), false)
	f.Add(uint16(2), uint8(9), []byte(`12`), false)
	f.Add(uint16(5), uint8(1), []byte(`{"a":1}`), true)
	f.Fuzz(func(t *testing.T, sample uint16, field uint8, value []byte, del bool) {
		b, ok := mutateSample(samples, sample, field, value, del)
		if !ok {
			return
		}
		doc, err := jsoncheck.Decode(b)
		if err != nil {
			return
		}
		verdicts(t, folded, published, doc)
	})
}
