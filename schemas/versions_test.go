package schemas

import (
	"encoding/json"
	"io/fs"
	"regexp"
	"slices"
	"testing"
)

// schemaDoc is the part of an event JSON Schema these tests read.
type schemaDoc struct {
	ID    string `json:"$id"`
	AllOf []struct {
		Ref string `json:"$ref"`
	} `json:"allOf"`
	Properties struct {
		SchemaVersion struct {
			Const int `json:"const"`
		} `json:"schema_version"`
		EventType struct {
			Const string `json:"const"`
		} `json:"event_type"`
		Payload struct {
			Required   []string `json:"required"`
			Properties map[string]struct {
				Pattern string `json:"pattern"`
			} `json:"properties"`
		} `json:"payload"`
	} `json:"properties"`
}

func readSchema(t *testing.T, name string) schemaDoc {
	t.Helper()
	b, err := fs.ReadFile(JSONSchemas(), name)
	if err != nil {
		t.Fatal(err)
	}
	var d schemaDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if d.ID != SchemaBaseURL+name {
		t.Errorf("%s has $id %s", name, d.ID)
	}
	return d
}

// TestPolicyIssuedVersions (issue #18): policy.issued v1 stays published as
// it was; v2 extends the envelope of version 2 (schema_version 2) and adds a
// required, pattern-checked jurisdiction and an optional agent of record.
func TestPolicyIssuedVersions(t *testing.T) {
	t.Parallel()
	v1 := readSchema(t, SchemaFile(TypePolicyIssued, 1))
	v2 := readSchema(t, SchemaFile(TypePolicyIssued, 2))
	for _, c := range []struct {
		doc  schemaDoc
		env  string
		want int
	}{{v1, "envelope.v1.json", 1}, {v2, "envelope.v2.json", 2}} {
		if len(c.doc.AllOf) != 1 || c.doc.AllOf[0].Ref != c.env {
			t.Errorf("%s extends %+v, want %s", c.doc.ID, c.doc.AllOf, c.env)
		}
		if got := readSchema(t, c.env).Properties.SchemaVersion.Const; got != c.want {
			t.Errorf("%s: schema_version const %d, want %d", c.env, got, c.want)
		}
	}
	if _, ok := v1.Properties.Payload.Properties["jurisdiction"]; ok {
		t.Error("v1 changed: it has jurisdiction")
	}
	if !slices.Contains(v2.Properties.Payload.Required, "jurisdiction") || slices.Contains(v2.Properties.Payload.Required, "agent_of_record") {
		t.Errorf("v2 requires %v, want jurisdiction and not agent_of_record", v2.Properties.Payload.Required)
	}
	for _, p := range v1.Properties.Payload.Required {
		if !slices.Contains(v2.Properties.Payload.Required, p) {
			t.Errorf("v2 no longer requires %s", p)
		}
	}
	jurisdiction := regexp.MustCompile(v2.Properties.Payload.Properties["jurisdiction"].Pattern)
	for code, ok := range map[string]bool{"US-CA": true, "GB-LND": true, "FR-75": true, "DE-BY": true,
		"US": false, "us-ca": false, "USA-CA": false, "US-CALI": false, "US_CA": false, "": false} {
		if jurisdiction.MatchString(code) != ok {
			t.Errorf("jurisdiction %q accepted = %v, want %v", code, !ok, ok)
		}
	}
	for _, p := range []string{"policyholder_ref", "carrier"} { // additive, optional (issue #18)
		if _, ok := v2.Properties.Payload.Properties[p]; !ok || slices.Contains(v2.Properties.Payload.Required, p) {
			t.Errorf("v2 %s: listed %v, want an optional property", p, ok)
		}
	}
	agent := v2.Properties.Payload.Properties["agent_of_record"].Pattern
	if agent == "" || agent != readSchema(t, SchemaFile(TypePolicyAgentChanged, 1)).Properties.Payload.Properties["agent_of_record"].Pattern {
		t.Errorf("agent_of_record pattern %q differs between policy.issued v2 and policy.agent_changed", agent)
	}
}

// TestPolicyIssuedRoundTrip: the one Go type of every policy.issued version
// keeps v2's fields and writes a v1 payload exactly as before.
func TestPolicyIssuedRoundTrip(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		`{"policy_id":"P-1","product_line":"auto","annual_premium":"100.00","currency":"USD","term_months":12,"effective_date":"2026-10-02","sale_type":"new_business"}`,
		`{"policy_id":"P-1","product_line":"auto","annual_premium":"100.00","currency":"USD","term_months":12,"effective_date":"2026-10-02","sale_type":"renewal","jurisdiction":"US-CA","agent_of_record":"A-7"}`,
		`{"policy_id":"P-1","product_line":"auto","annual_premium":"100.00","currency":"USD","term_months":12,"effective_date":"2026-10-02","sale_type":"renewal","jurisdiction":"US-CA"}`,
		`{"policy_id":"P-1","product_line":"auto","annual_premium":"100.00","currency":"USD","term_months":12,"effective_date":"2026-10-02","sale_type":"new_business","jurisdiction":"US-CA","policyholder_ref":"C-7","carrier":"acme-life"}`,
	} {
		var p PolicyIssued
		if err := Decode([]byte(raw), &p); err != nil {
			t.Fatal(err)
		}
		b, err := Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != raw {
			t.Errorf("round trip\n got %s\nwant %s", b, raw)
		}
	}
	var c PolicyAgentChanged
	raw := `{"policy_id":"P-1","agent_of_record":"A-8","effective_date":"2027-10-02"}`
	if err := Decode([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	if b, _ := Encode(c); string(b) != raw {
		t.Errorf("policy.agent_changed round trip %s", b)
	}
}
