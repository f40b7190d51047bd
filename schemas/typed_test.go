package schemas

import (
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var typedAt = time.Date(2026, 10, 2, 8, 0, 0, 0, time.UTC)

// typedPolicy is a v2 policy.issued, every field set.
var typedPolicy = PolicyIssued{PolicyID: "P-1042", ProductLine: "home", AnnualPremium: "1000.50", Currency: "EUR", TermMonths: 12,
	EffectiveDate: "2026-10-03", SaleType: SaleNewBusiness, Jurisdiction: "US-CA", AgentOfRecord: "agent-17"}

// typedPayloads has a payload of every event type the pipeline carries,
// with every field set, so that a field DecodeEvent dropped would show.
var typedPayloads = map[string]any{
	TypeReferralCreated: &ReferralCreated{Referrer: Referrer{ID: "agent-17", Type: ReferrerAgent}, Channel: "crm",
		Lead: Contact{Name: "Zoë", Email: "z@example.com", Phone: "+15555550100"}, ProductInterest: "home", ReferralToken: "tok.sig"},
	TypeReferralStatusUpdated: &ReferralStatusUpdated{Status: StatusLost, Reason: "price"},
	TypePolicyIssued:          &typedPolicy,
	TypePolicyCancelled:       &PolicyCancelled{PolicyID: "P-1042", CancelledOn: "2026-11-01", Reason: "non-payment"},
	TypePolicyAgentChanged:    &PolicyAgentChanged{PolicyID: "P-1042", AgentOfRecord: "agent-18", EffectiveDate: "2027-01-01"},
	TypeAttributionCalculated: &AttributionCalculated{Version: 7, PolicyEventID: "e2", Policy: typedPolicy, PaidModel: "last_touch",
		ModelVersion: "m1", Touchpoints: []Touchpoint{
			{Touch: Touch{EventID: "e1", ReferrerID: "agent-17", ReferrerType: ReferrerAgent, Channel: "crm", OccurredAt: typedAt, ReceivedAt: typedAt},
				Weights: map[string]int{"last_touch": 10000, "linear": 5000}},
			{Touch: Touch{EventID: "e0", ReferrerID: "c-1", ReferrerType: ReferrerCustomer, Channel: "web", OccurredAt: typedAt, ReceivedAt: typedAt},
				Excluded: true, Weights: map[string]int{"last_touch": 0, "linear": 0}}}},
	TypeAttributionCancelled: &AttributionCancelled{AttributionID: "a1", PolicyEventID: "e2", CancelEventID: "e3", Policy: typedPolicy,
		CancelledOn: "2026-11-01"},
	TypeCommissionCalculated: &CommissionCalculated{AttributionID: "a1", AttributionVersion: 7, PolicyID: "P-1042", PayeeID: "agent-17",
		PayeeType: ReferrerAgent, ProductLine: "home", SaleType: SaleNewBusiness, Currency: "EUR", PremiumMinor: 100050, PolicyCommission: 12506,
		WeightBP: 10000, AmountMinor: 12506, RuleSetVersion: "v1", RuleID: "home", Model: "last_touch", Kind: "override", SourceLineID: "l0"},
	TypeCommissionEntry: &JournalEntry{EntryID: "j1", Kind: EntryDecision, PayeeID: "agent-17", PayeeType: ReferrerAgent, Currency: "EUR",
		AmountMinor: -12506, Period: "2026-10", Corrects: "j0", CauseID: "a1", AttributionID: "a1", AttributionVersion: 7, PolicyID: "P-1042",
		PartnerID: "acme", LeadID: "L-1", ProductLine: "home", SaleType: SaleNewBusiness, Model: "last_touch", ModelVersion: "m1", WeightBP: 10000,
		RuleSetVersion: "v1", RuleID: "home", PremiumMinor: 100050, BaseMinor: 100050, Rate: "12.5", Band: "12.5@100050", MinApplied: true,
		CapApplied: true, ResidueMinor: 1, OverrideLevel: 1, SourceEntryID: "j-1", CancelledOn: "2026-11-01", HoldUntil: "2026-11-02",
		LicenceCheck: "licensed:US-CA:home", PayoutCurrency: "USD", PayoutAmountMinor: -13500, FXRate: "1.0795", FXSource: "ecb",
		FXAsOf: "2026-10-01T00:00:00Z", Actor: "ops", Reason: "declined", Decision: DecisionDecline, Chain: 3, ChainSeq: 9, PrevHash: "ab", Hash: "cd"},
	TypeAdjustmentRequested: &AdjustmentRequested{RequestID: "r1", PayeeID: "agent-17", PayeeType: ReferrerAgent, Currency: "EUR",
		AmountMinor: -100, PolicyID: "P-1042", Actor: "ops", Reason: "goodwill"},
	TypePeriodClosed:      &PeriodClosed{Period: "2026-10", RequestID: "c1", Actor: "ops", Partitions: 4},
	TypeDecisionRequested: &DecisionRequested{RequestID: "d1", EntryID: "j1", AttributionID: "a1", Decision: DecisionApprove, Actor: "ops", Reason: "ok"},
}

// typedEnvelope is an event of type typ with payload p, every envelope
// field set, encoded by encoding/json: what any producer of the pipeline
// writes.
func typedEnvelope(t testing.TB, typ string, p any) ([]byte, Envelope) {
	t.Helper()
	payload, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	received := typedAt.Add(time.Second)
	env := Envelope{EventID: "e-" + typ, EventType: typ, SchemaVersion: 2, OccurredAt: typedAt, ReceivedAt: &received, PartnerID: "acme",
		LeadID: "L-1", IdempotencyKey: "k-1", Payload: payload, Trace: map[string]int64{"ingest": 1, "validate": 2}}
	raw, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return raw, env
}

// eventTypeConstants are the values of the Type* constants of event.go,
// read from its source so that a type added there and not to NewBody
// fails TestDecodeEventEveryType.
func eventTypeConstants(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "event.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if strings.HasPrefix(name.Name, "Type") && i < len(vs.Values) {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
					v, _ := strconv.Unquote(lit.Value)
					out = append(out, v)
				}
			}
		}
		return true
	})
	if len(out) < 12 {
		t.Fatalf("found %d event type constants in event.go: %v", len(out), out)
	}
	return out
}

// TestDecodeEventEveryType: every event type the pipeline carries decodes
// in one call into its envelope, its typed payload with every field, and
// the payload's bytes.
func TestDecodeEventEveryType(t *testing.T) {
	t.Parallel()
	for _, typ := range eventTypeConstants(t) {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			want, ok := typedPayloads[typ]
			if !ok {
				t.Fatalf("no payload of %s in typedPayloads", typ)
			}
			raw, env := typedEnvelope(t, typ, want)
			ev, err := DecodeEvent(raw)
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if !reflect.DeepEqual(ev.Body, want) {
				t.Errorf("body %#v\nwant %#v", ev.Body, want)
			}
			if !reflect.DeepEqual(ev.Envelope, env) {
				t.Errorf("envelope %+v\nwant %+v", ev.Envelope, env)
			}
			if reflect.TypeOf(NewBody(typ)) != reflect.TypeOf(want) {
				t.Errorf("NewBody(%s) is %T, want %T", typ, NewBody(typ), want)
			}
		})
	}
}

// TestDecodeEventErrors: each way a record fails says which part failed,
// keeps what did decode, and reads as the decoder's own message.
func TestDecodeEventErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		raw         string
		kind        error
		pointer     string
		wantID      string
		wantBodyNil bool
	}{
		{"not JSON", `not json`, ErrEnvelope, "", "", true},
		{"not an object", `[1,2]`, ErrEnvelope, "", "", true},
		{"envelope field of the wrong type", `{"event_id":1,"event_type":"policy.issued","payload":{}}`, ErrEnvelope, "", "", true},
		{"unknown type", `{"event_id":"e1","event_type":"referral.deleted","payload":{}}`, ErrEventType, "/event_type", "e1", true},
		{"no type", `{"event_id":"e1","payload":{}}`, ErrEventType, "/event_type", "e1", true},
		{"payload of the wrong shape", `{"event_id":"e1","event_type":"policy.issued","payload":{"term_months":"twelve"}}`, ErrPayload, "/payload", "e1", false},
		{"payload not an object", `{"event_id":"e1","event_type":"referral.status_updated","payload":"lost"}`, ErrPayload, "/payload", "e1", false},
		// An absent payload is no JSON at all, which no type decodes from.
		{"no payload", `{"event_id":"e1","event_type":"referral.status_updated"}`, ErrPayload, "/payload", "e1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := DecodeEvent([]byte(tt.raw))
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, tt.kind) {
				t.Fatalf("error %v (%T), want a DecodeError of kind %v", err, err, tt.kind)
			}
			if de.Pointer() != tt.pointer || ev.EventID != tt.wantID || (ev.Body == nil) != tt.wantBodyNil {
				t.Errorf("pointer %q, event id %q, body %v; want %q, %q, body nil %v", de.Pointer(), ev.EventID, ev.Body, tt.pointer, tt.wantID, tt.wantBodyNil)
			}
			if de.Err == nil || err.Error() != de.Err.Error() {
				t.Errorf("message %q, want the decoder's %v", err, de.Err)
			}
		})
	}
}

// legacyTouchpoint is Touchpoint as it was before Touch was embedded in
// it: attribution.calculated's wire format must not have changed.
type legacyTouchpoint struct {
	EventID      string         `json:"event_id"`
	ReferrerID   string         `json:"referrer_id"`
	ReferrerType string         `json:"referrer_type"`
	Channel      string         `json:"channel"`
	OccurredAt   time.Time      `json:"occurred_at"`
	ReceivedAt   time.Time      `json:"received_at"`
	Excluded     bool           `json:"excluded,omitempty"`
	Weights      map[string]int `json:"weights_bp"`
}

// TestAttributionWireGolden: attribution.calculated encodes byte for byte
// as it did when Touchpoint spelled out the touch's fields, and decodes
// back to the same value.
func TestAttributionWireGolden(t *testing.T) {
	t.Parallel()
	att := typedPayloads[TypeAttributionCalculated].(*AttributionCalculated)
	const golden = `{"version":7,"policy_event_id":"e2","policy":{"policy_id":"P-1042","product_line":"home","annual_premium":"1000.50",` +
		`"currency":"EUR","term_months":12,"effective_date":"2026-10-03","sale_type":"new_business","jurisdiction":"US-CA","agent_of_record":"agent-17"},` +
		`"paid_model":"last_touch","model_version":"m1","touchpoints":[` +
		`{"event_id":"e1","referrer_id":"agent-17","referrer_type":"agent","channel":"crm","occurred_at":"2026-10-02T08:00:00Z",` +
		`"received_at":"2026-10-02T08:00:00Z","weights_bp":{"last_touch":10000,"linear":5000}},` +
		`{"event_id":"e0","referrer_id":"c-1","referrer_type":"customer","channel":"web","occurred_at":"2026-10-02T08:00:00Z",` +
		`"received_at":"2026-10-02T08:00:00Z","excluded":true,"weights_bp":{"last_touch":0,"linear":0}}]}`
	got, err := Encode(att)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != golden {
		t.Errorf("Encode(attribution)\n got %s\nwant %s", got, golden)
	}
	legacy := struct {
		Version       int64              `json:"version"`
		PolicyEventID string             `json:"policy_event_id"`
		Policy        PolicyIssued       `json:"policy"`
		PaidModel     string             `json:"paid_model"`
		ModelVersion  string             `json:"model_version,omitempty"`
		Touchpoints   []legacyTouchpoint `json:"touchpoints"`
	}{att.Version, att.PolicyEventID, att.Policy, att.PaidModel, att.ModelVersion, nil}
	for _, tp := range att.Touchpoints {
		legacy.Touchpoints = append(legacy.Touchpoints, legacyTouchpoint{tp.EventID, tp.ReferrerID, tp.ReferrerType, tp.Channel,
			tp.OccurredAt, tp.ReceivedAt, tp.Excluded, tp.Weights})
	}
	if old, err := json.Marshal(legacy); err != nil || string(old) != golden {
		t.Errorf("the legacy shape encodes\n %s, %v\nnot the golden bytes", old, err)
	}
	var back AttributionCalculated
	if err := Decode([]byte(golden), &back); err != nil || !reflect.DeepEqual(&back, att) {
		t.Errorf("golden decodes to %+v, %v", back, err)
	}
}

// FuzzDecodeEvent: records reach dedupe and sink from Kafka, where anyone
// with write access can put anything. DecodeEvent never panics, fails with
// a DecodeError of one kind, agrees with Decode on the envelope, and what
// it decodes re-encodes to a value that decodes the same.
func FuzzDecodeEvent(f *testing.F) {
	for _, typ := range []string{TypeReferralCreated, TypePolicyIssued, TypeAttributionCalculated, TypeCommissionEntry, TypePeriodClosed} {
		raw, _ := typedEnvelope(f, typ, typedPayloads[typ])
		f.Add(raw)
	}
	f.Add([]byte(`{"event_id":"e","event_type":"nope","payload":{}}`))
	f.Add([]byte(`{"event_type":"policy.cancelled","payload":{"policy_id":1}}`))
	f.Add([]byte(`{"event_type":"referral.created","payload":{"lead":{"name":"\ud800"}},"payload":{}}`))
	f.Add([]byte(`{"payload":{"status":"new"},"event_type":"referral.status_updated","event_id":"e"}`))
	f.Add([]byte(`{"event_type":"policy.issued","payload":null,"trace":null,"received_at":null}`))
	f.Add([]byte(` {"event_type" : "period.closed" , "payload" : {"partitions":1.5} } `))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := DecodeEvent(raw)
		// The one-pass path must give exactly what the two-pass one does.
		ref, refErr := decodeEventTwoPass(raw)
		if (err == nil) != (refErr == nil) || (err != nil && err.Error() != refErr.Error()) {
			t.Fatalf("DecodeEvent error %v, two passes %v", err, refErr)
		}
		if !reflect.DeepEqual(ev, ref) {
			t.Fatalf("DecodeEvent\n %#v\ntwo passes\n %#v", ev, ref)
		}
		var env Envelope
		envErr := Decode(raw, &env)
		if (envErr != nil) != errors.Is(err, ErrEnvelope) {
			t.Fatalf("envelope error %v, DecodeEvent %v", envErr, err)
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Err == nil {
				t.Fatalf("error %v (%T) is not a DecodeError", err, err)
			}
			kinds := 0
			for _, k := range []error{ErrEnvelope, ErrEventType, ErrPayload} {
				if errors.Is(err, k) {
					kinds++
				}
			}
			if kinds != 1 {
				t.Fatalf("error %v has %d kinds", err, kinds)
			}
			if errors.Is(err, ErrEnvelope) {
				return
			}
		}
		if !reflect.DeepEqual(ev.Envelope, env) {
			t.Fatalf("envelope %+v, Decode %+v", ev.Envelope, env)
		}
		if err != nil {
			return
		}
		if reflect.TypeOf(ev.Body) != reflect.TypeOf(NewBody(ev.EventType)) {
			t.Fatalf("body %T for %s", ev.Body, ev.EventType)
		}
		b, err := Encode(ev.Body)
		if err != nil {
			t.Fatalf("re-encode %T: %v", ev.Body, err)
		}
		again := NewBody(ev.EventType)
		if err := Decode(b, again); err != nil {
			t.Fatalf("re-decode %s: %v", b, err)
		}
		b2, _ := Encode(again)
		if string(b) != string(b2) {
			t.Fatalf("round trip changed\n %s\n %s", b, b2)
		}
	})
}
