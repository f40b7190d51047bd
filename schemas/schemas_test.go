package schemas

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
)

func TestMigrations(t *testing.T) {
	t.Parallel()
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 {
		t.Fatalf("migrations %+v", ms)
	}
	for _, m := range ms {
		for _, s := range m.Statements {
			// Features ClickHouse 18.16 lacks must not creep in.
			for _, banned := range []string{"LowCardinality", "DateTime64", " TTL ", "JSONExtract"} {
				if strings.Contains(s, banned) {
					t.Errorf("%s uses %s, which ClickHouse 18.16 lacks", m.Name, banned)
				}
			}
			if strings.HasPrefix(s, "--") || strings.HasSuffix(s, ";") {
				t.Errorf("%s: statement not cleaned: %q", m.Name, s)
			}
		}
	}
}

func TestJSONSchemasAreValidJSON(t *testing.T) {
	t.Parallel()
	files := JSONSchemas()
	for _, typ := range PartnerEventTypes {
		b, err := fs.ReadFile(files, SchemaFile(typ, 1))
		if err != nil {
			t.Fatalf("no schema for %s: %v", typ, err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if doc["$id"] != SchemaBaseURL+SchemaFile(typ, 1) {
			t.Errorf("%s has $id %v", typ, doc["$id"])
		}
	}
}

func TestAllTopics(t *testing.T) {
	t.Parallel()
	got := AllTopics("staging.")
	if len(got) != 10 || got[0] != "staging.referrals.inbound" || got[9] != "staging.reftrack.commission.changelog" {
		t.Errorf("AllTopics = %v", got)
	}
}

func TestOpenAPI(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi: %v %q", err, doc.OpenAPI)
	}
	for _, p := range []string{"/v1/events", "/v1/referrals", "/v1/referrals/{id}/status", "/v1/policies", "/v1/referral-tokens"} {
		if doc.Paths[p] == nil {
			t.Errorf("no path %s", p)
		}
	}
	// Every schema the spec refers to by $id exists.
	for _, typ := range PartnerEventTypes {
		if !strings.Contains(string(OpenAPI()), SchemaBaseURL+SchemaFile(typ, 1)) {
			t.Errorf("the spec does not use the %s schema", typ)
		}
	}
}
