package schemas

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// openAPIDoc is the part of the OpenAPI document these tests read.
type openAPIDoc struct {
	Info struct {
		License struct {
			Name       string `json:"name"`
			Identifier string `json:"identifier"`
			URL        string `json:"url"`
		} `json:"license"`
	} `json:"info"`
	Paths map[string]map[string]struct {
		OperationID string                     `json:"operationId"`
		RequestBody *json.RawMessage           `json:"requestBody"`
		Responses   map[string]json.RawMessage `json:"responses"`
	} `json:"paths"`
}

// TestOpenAPIUsableByGenerators holds finding 10 of issue #11: a client
// generator must be able to read the served document on its own.
func TestOpenAPIUsableByGenerators(t *testing.T) {
	t.Parallel()
	var raw any
	if err := json.Unmarshal(OpenAPI(), &raw); err != nil {
		t.Fatal(err)
	}
	var doc openAPIDoc
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"every $ref resolves inside the document", func(t *testing.T) {
			walkRefs(raw, func(ref string) {
				if !strings.HasPrefix(ref, "#/") {
					t.Errorf("$ref %s leaves the document", ref)
					return
				}
				if _, ok := pointer(raw, strings.TrimPrefix(ref, "#")); !ok {
					t.Errorf("$ref %s resolves to nothing", ref)
				}
			})
		}},
		{"one distinct operationId per operation", func(t *testing.T) {
			seen := map[string]string{}
			forOperations(doc, func(at, id string, _ map[string]json.RawMessage) {
				if id == "" {
					t.Errorf("%s has no operationId", at)
				} else if prev, dup := seen[id]; dup {
					t.Errorf("%s and %s share operationId %s", prev, at, id)
				}
				seen[id] = at
			})
		}},
		{"a licence", func(t *testing.T) {
			l := doc.Info.License
			if l.Name == "" || (l.Identifier == "" && l.URL == "") {
				t.Errorf("info.license %+v, want a name and an identifier or url", l)
			}
		}},
		{"a 4XX answer on every operation", func(t *testing.T) {
			forOperations(doc, func(at, _ string, responses map[string]json.RawMessage) {
				if !slices.ContainsFunc(mapKeys(responses), regexp.MustCompile(`^4[0-9X]{2}$`).MatchString) {
					t.Errorf("%s documents no 4XX response", at)
				}
			})
		}},
		{"PATCH status takes the small body and the envelope", func(t *testing.T) {
			schema, _ := pointer(raw, "/paths/~1v1~1referrals~1{id}~1status/patch/requestBody/content/application~1json/schema")
			body, _ := resolve(raw, schema).(map[string]any)
			alts, _ := body["oneOf"].([]any)
			var small, envelope bool
			for _, alt := range alts {
				props, _ := pointer(resolve(raw, alt), "/properties")
				p, _ := props.(map[string]any)
				small = small || (p["status"] != nil && p["payload"] == nil)
				envelope = envelope || p["payload"] != nil
			}
			if !small || !envelope {
				t.Errorf("PATCH /v1/referrals/{id}/status bodies %v: want {status,…} and the envelope", alts)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t)
		})
	}
}

func forOperations(doc openAPIDoc, fn func(at, operationID string, responses map[string]json.RawMessage)) {
	for path, item := range doc.Paths {
		for method, op := range item {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			fn(strings.ToUpper(method)+" "+path, op.OperationID, op.Responses)
		}
	}
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// walkRefs calls fn with every "$ref" string in a decoded JSON tree.
func walkRefs(v any, fn func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "$ref" {
				fn(s)
				continue
			}
			walkRefs(x, fn)
		}
	case []any:
		for _, x := range v {
			walkRefs(x, fn)
		}
	}
}

// resolve follows a local $ref, once.
func resolve(doc, v any) any {
	if m, ok := v.(map[string]any); ok {
		if ref, ok := m["$ref"].(string); ok {
			v, _ = pointer(doc, strings.TrimPrefix(ref, "#"))
		}
	}
	return v
}

// pointer resolves an RFC 6901 JSON pointer in a decoded JSON tree.
func pointer(v any, ptr string) (any, bool) {
	if ptr == "" {
		return v, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[tok]; !ok {
			return nil, false
		}
	}
	return v, true
}
