package validation

import (
	"maps"
	"reflect"
	"strings"
)

// jsonschema/v5 validates an allOf branch as a whole second pass over the
// event, with its own scope and evaluated-property maps; that pass was a
// quarter of validate's time. Every event type's schema is "the envelope
// plus typed properties" (allOf: [{$ref: envelope}]), so inlineEnvelope
// folds the envelope into the type's schema when that provably keeps the
// meaning, and compiles the folded document instead. The original files
// remain the published contract; TestInlinedAgrees and FuzzInlinedAgrees
// hold the two to the same verdicts.

// Keywords whose meaning depends on each other: a fold never splits one of
// these groups between the two schemas it merges.
var keywordGroups = [][]string{
	{"properties", "patternProperties", "additionalProperties", "unevaluatedProperties"},
	{"prefixItems", "items", "unevaluatedItems", "contains", "minContains", "maxContains"},
	{"if", "then", "else"},
}

// Keywords that tie a schema to its location; a schema with any of them is
// never moved into another document.
var locationKeywords = []string{"$ref", "$dynamicRef", "$id", "$anchor", "$dynamicAnchor", "$defs", "definitions"}

// inlineEnvelope returns doc with its single allOf $ref to a document in
// docs folded in, or ok=false when doc is not of that simple shape.
func inlineEnvelope(doc map[string]any, docs map[string]map[string]any) (map[string]any, bool) {
	allOf, _ := doc["allOf"].([]any)
	if len(allOf) != 1 {
		return nil, false
	}
	ref, _ := allOf[0].(map[string]any)
	target, _ := ref["$ref"].(string)
	if len(ref) != 1 || strings.ContainsAny(target, "#/") {
		return nil, false
	}
	env, ok := docs[target]
	if !ok || hasLocationKeyword(withoutKeys(env, "$id")) {
		return nil, false
	}
	out := withoutKeys(env, "$id", "$schema", "title", "description")
	for k, v := range doc {
		switch k {
		case "allOf":
		case "$id", "$schema", "title", "description":
			out[k] = v
		case "properties":
		default:
			return nil, false // a keyword next to allOf: keep the original
		}
	}
	own, _ := doc["properties"].(map[string]any)
	if len(own) == 0 {
		return out, true
	}
	if hasLocationKeyword(own) {
		return nil, false
	}
	envProps, _ := env["properties"].(map[string]any)
	props := maps.Clone(envProps)
	for name, sub := range own {
		base, ok := envProps[name]
		if !ok {
			// The envelope would refuse it (or judge it by its own rules);
			// only a property the envelope knows can be folded exactly.
			return nil, false
		}
		merged, ok := mergeSchemas(base, sub)
		if !ok {
			merged = map[string]any{"allOf": []any{base, sub}}
		}
		props[name] = merged
	}
	out["properties"] = props
	return out, true
}

// mergeSchemas merges two schemas that both must hold into one object when
// their keywords are independent: no keyword on both sides with different
// values, and no keyword group split between them.
func mergeSchemas(a, b any) (map[string]any, bool) {
	ma, okA := a.(map[string]any)
	mb, okB := b.(map[string]any)
	if !okA || !okB {
		return nil, false
	}
	out := maps.Clone(ma)
	for k, v := range mb {
		if old, ok := ma[k]; ok && !reflect.DeepEqual(old, v) {
			return nil, false
		}
		out[k] = v
	}
	for _, group := range keywordGroups {
		inA, inB := false, false
		for _, k := range group {
			_, x := ma[k]
			_, y := mb[k]
			inA, inB = inA || x, inB || y
		}
		if inA && inB {
			return nil, false
		}
	}
	return out, true
}

func withoutKeys(m map[string]any, keys ...string) map[string]any {
	out := maps.Clone(m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// hasLocationKeyword reports whether v holds, at any depth, a keyword that
// makes a schema's meaning depend on where it sits. It looks at keys only,
// so a "$ref" property name inside "properties" counts too: refusing a fold
// is always safe.
func hasLocationKeyword(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			for _, kw := range locationKeywords {
				if k == kw {
					return true
				}
			}
			if hasLocationKeyword(sub) {
				return true
			}
		}
	case []any:
		for _, sub := range v {
			if hasLocationKeyword(sub) {
				return true
			}
		}
	}
	return false
}
