package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/reftrack/reftrack/schemas"
)

// TestCommittedDocumentIsGenerated keeps schemas/openapi.json what the
// generator makes of the template and the JSON Schemas: editing either
// without `go generate` in schemas fails here.
func TestCommittedDocumentIsGenerated(t *testing.T) {
	t.Parallel()
	tmpl, err := os.ReadFile("../../openapi.template.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(tmpl, schemas.JSONSchemas(), schemas.SchemaBaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if got := schemas.OpenAPI(); !bytes.Equal(got, want) {
		t.Fatalf("schemas/openapi.json is stale (first difference at line %d): run `go generate` in schemas", firstDiffLine(got, want))
	}
}

func firstDiffLine(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

const base = "https://x.test/s/"

// testSchemas is a small envelope and one event extending it.
var testSchemas = fstest.MapFS{
	"envelope.v1.json": {Data: []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://x.test/s/envelope.v1.json",
		"type":"object","required":["event_id","event_type","lead_id","payload"],
		"properties":{"event_id":{"type":"string"},"event_type":{"type":"string"},"lead_id":{"type":"string","pattern":"^L"},"payload":{"type":"object"}},
		"additionalProperties":false}`)},
	"thing.done.v1.json": {Data: []byte(`{"$id":"https://x.test/s/thing.done.v1.json","title":"thing.done","allOf":[{"$ref":"envelope.v1.json"}],
		"properties":{"event_type":{"const":"thing.done"},"payload":{"type":"object","required":["state"],
		"properties":{"state":{"enum":["a","b"]},"note":{"type":"string","maxLength":9}}}}}`)},
	"nested-ref.v1.json": {Data: []byte(`{"type":"object","properties":{"x":{"$ref":"#/$defs/x"}},"$defs":{"x":{"type":"string"}}}`)},
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	const c = "/components/schemas/"
	tests := []struct {
		name    string
		schemas string            // the template's components.schemas
		paths   string            // the template's paths
		want    map[string]string // JSON pointer in the output -> its JSON
	}{
		{
			name:    "event flattened, server-filled fields optional, const as a typed enum",
			schemas: `{"Done":{"$ref":"https://x.test/s/thing.done.v1.json","x-reftrack-optional":["event_id","event_type"],"description":"D."}}`,
			want: map[string]string{
				c + "Done/title":                       `"thing.done"`,
				c + "Done/type":                        `"object"`,
				c + "Done/required":                    `["lead_id","payload"]`,
				c + "Done/properties/event_type":       `{"type":"string","enum":["thing.done"]}`,
				c + "Done/properties/lead_id":          `{"type":"string","pattern":"^L"}`,
				c + "Done/properties/payload/required": `["state"]`,
				c + "Done/additionalProperties":        `false`,
				c + "Done/description":                 `"D.\n\nBundled from the JSON Schemas https://x.test/s/thing.done.v1.json and https://x.test/s/envelope.v1.json (schemas/jsonschema): the envelope's properties, narrowed by the event's."`,
			},
		},
		{
			name: "a named fragment becomes one component others refer to",
			schemas: `{"Done":{"$ref":"https://x.test/s/thing.done.v1.json"},
				"DonePayload":{"$ref":"https://x.test/s/thing.done.v1.json#/properties/payload"},
				"State":{"$ref":"https://x.test/s/thing.done.v1.json#/properties/payload/properties/state"}}`,
			want: map[string]string{
				c + "Done/required":                `["event_id","event_type","lead_id","payload"]`,
				c + "Done/properties/payload":      `{"$ref":"#/components/schemas/DonePayload"}`,
				c + "DonePayload/properties/state": `{"$ref":"#/components/schemas/State"}`,
				c + "DonePayload/properties/note":  `{"type":"string","maxLength":9}`,
				c + "State":                        `{"type":"string","enum":["a","b"]}`,
			},
		},
		{
			name:    "an unnamed fragment elsewhere is copied in place with the template's keywords",
			schemas: `{}`,
			paths:   `{"/x":{"get":{"parameters":[{"name":"n","in":"query","schema":{"$ref":"https://x.test/s/thing.done.v1.json#/properties/payload/properties/note","description":"N."}}]}}}`,
			want:    map[string]string{"/paths/~1x/get/parameters/0/schema": `{"type":"string","maxLength":9,"description":"N."}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Generate([]byte(template(tt.paths, tt.schemas)), testSchemas, base)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := parse(got)
			if err != nil {
				t.Fatal(err)
			}
			for ptr, want := range tt.want {
				node, err := resolve(doc, ptr)
				if err != nil {
					t.Errorf("%s: %v", ptr, err)
					continue
				}
				if b, _ := encode(node); compact(t, b) != want {
					t.Errorf("%s = %s, want %s", ptr, compact(t, b), want)
				}
			}
		})
	}
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestGenerateRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, paths, schemas, want string
	}{
		{"optional field the envelope does not require", "", `{"D":{"$ref":"https://x.test/s/thing.done.v1.json","x-reftrack-optional":["trace"]}}`, "does not require"},
		{"a whole event outside components", `{"/x":{"post":{"requestBody":{"content":{"application/json":{"schema":{"$ref":"https://x.test/s/thing.done.v1.json"}}}}}}}`, `{}`, "name a whole event schema"},
		{"a $ref inside a schema file", "", `{"N":{"$ref":"https://x.test/s/nested-ref.v1.json"}}`, "not supported"},
		{"a missing schema file", "", `{"M":{"$ref":"https://x.test/s/missing.v1.json#/a"}}`, "read schema missing.v1.json"},
		{"a pointer to nothing", "", `{"M":{"$ref":"https://x.test/s/thing.done.v1.json#/properties/nope"}}`, `no member "nope"`},
		{"a dangling local $ref", `{"/x":{"get":{"responses":{"200":{"$ref":"#/components/responses/Nope"}}}}}`, `{}`, "#/components/responses/Nope"},
		{"a foreign $ref", `{"/x":{"get":{"responses":{"200":{"$ref":"https://elsewhere.test/r.json"}}}}}`, `{}`, "leaves the document"},
		{"two components for one fragment", "", `{"A":{"$ref":"https://x.test/s/envelope.v1.json#/properties/lead_id"},"B":{"$ref":"https://x.test/s/envelope.v1.json#/properties/lead_id"}}`, "both stand for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Generate([]byte(template(tt.paths, tt.schemas)), testSchemas, base)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func template(paths, schemas string) string {
	if paths == "" {
		paths = "{}"
	}
	return `{"openapi":"3.1.0","paths":` + paths + `,"components":{"schemas":` + schemas + `}}`
}

func TestEncodeKeepsOrderAndText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`{"b":1,"a":[true,null,"<→>"],"c":{},"d":[]}`, "{\n  \"b\": 1,\n  \"a\": [\n    true,\n    null,\n    \"<→>\"\n  ],\n  \"c\": {},\n  \"d\": []\n}\n"},
		{`1.50`, "1.50\n"},
	}
	for _, tt := range tests {
		v, err := parse([]byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		got, err := encode(v)
		if err != nil || string(got) != tt.want {
			t.Errorf("encode(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `{} {}`, `{`} {
		if _, err := parse([]byte(bad)); err == nil {
			t.Errorf("parse(%s) accepted", bad)
		}
	}
}
