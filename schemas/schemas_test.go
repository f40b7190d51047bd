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
	if len(got) != 7 || got[0] != "staging.referrals.inbound" {
		t.Errorf("AllTopics = %v", got)
	}
}
