package sample

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/schemas"
)

func devRules(t *testing.T) *Rules {
	t.Helper()
	r, err := LoadRules("../dev/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sent is the part of a record's value the checks below read.
type sent struct {
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	Partner   string `json:"partner_id"`
	Lead      string `json:"lead_id"`
	Payload   struct {
		Referrer struct{ ID, Type string } `json:"referrer"`
	} `json:"payload"`
}

func decodeSent(t *testing.T, r Record) (sent, bool) {
	t.Helper()
	var s sent
	if json.Unmarshal(r.Value, &s) != nil || s.Lead == "" {
		if r.Kind != "invalid" {
			t.Fatalf("a %s record does not decode: %s", r.Kind, r.Value)
		}
		return s, false
	}
	if s.Partner != r.Partner || s.Lead != r.Lead {
		t.Fatalf("record says %s/%s, its value %s/%s", r.Partner, r.Lead, s.Partner, s.Lead)
	}
	return s, true
}

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	opts := DefaultOptions()
	opts.Events = 3_000
	a, err := Generate(opts, devRules(t))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(opts, devRules(t))
	if len(a.Records) != len(b.Records) {
		t.Fatalf("same seed, %d and %d records", len(a.Records), len(b.Records))
	}
	for i := range a.Records {
		if a.Records[i].Partner != b.Records[i].Partner || !bytes.Equal(a.Records[i].Value, b.Records[i].Value) {
			t.Fatalf("same seed, record %d differs:\n%s\n%s", i, a.Records[i].Value, b.Records[i].Value)
		}
	}
	if !maps.Equal(a.Want.CommissionByLeadPayee, b.Want.CommissionByLeadPayee) {
		t.Fatal("same seed, different oracles")
	}
}

// TestGenerateSharesIDsAcrossPartners holds the generator to what the
// tenant-isolation end-to-end test needs (issue #11): lead ids and event ids
// that two partners both use, each partner's own ids unique, the second
// partner's referrers none of the first's, and an oracle that books money
// per partner's lead.
func TestGenerateSharesIDsAcrossPartners(t *testing.T) {
	t.Parallel()
	two := func(o *Options) { o.Partners = []string{"p-one", "p-two"} }
	tests := []struct {
		name          string
		opts          func(*Options)
		shared, reuse bool
	}{
		{"no sharing", func(o *Options) { o.SharedLeadFraction, o.SharedEventIDFraction = 0, 0 }, false, false},
		{"defaults", func(*Options) {}, true, true},
		{"lead ids only", func(o *Options) { two(o); o.SharedLeadFraction, o.SharedEventIDFraction = 0.5, 0 }, true, false},
		{"heavy, two partners", func(o *Options) { two(o); o.SharedLeadFraction, o.SharedEventIDFraction = 1, 1 }, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := DefaultOptions()
			opts.Events, opts.Seed = 4_000, 42
			tt.opts(&opts)
			ds, err := Generate(opts, devRules(t))
			if err != nil {
				t.Fatal(err)
			}
			partnersOfLead := map[string]map[string]bool{}  // lead id → partners
			partnersOfEvent := map[string]map[string]bool{} // event id → partners
			referrers := map[string]map[string]bool{}       // scoped lead → "type:id"
			seen := map[string]bool{}                       // scoped event id of valid records
			for _, r := range ds.Records {
				s, ok := decodeSent(t, r)
				if !ok {
					continue
				}
				add(partnersOfLead, s.Lead, s.Partner)
				lead := schemas.Scoped(s.Partner, s.Lead)
				if s.EventType == "referral.created" && r.Kind == "valid" {
					add(referrers, lead, s.Payload.Referrer.Type+":"+s.Payload.Referrer.ID)
				}
				if s.EventID == "" || r.Kind != "valid" {
					continue
				}
				add(partnersOfEvent, s.EventID, s.Partner)
				if seen[schemas.Scoped(s.Partner, s.EventID)] {
					t.Fatalf("partner %s uses event id %s for two valid events", s.Partner, s.EventID)
				}
				seen[schemas.Scoped(s.Partner, s.EventID)] = true
			}
			sharedLeads, sharedEvents := countShared(partnersOfLead), countShared(partnersOfEvent)
			t.Logf("%d records, %d lead ids and %d event ids shared, %d policies", len(ds.Records), sharedLeads, sharedEvents, ds.Want.Policies)
			if sharedLeads != ds.Want.SharedLeads || sharedEvents != ds.Want.SharedEventIDs {
				t.Errorf("records share %d lead ids and %d event ids, the oracle says %d and %d",
					sharedLeads, sharedEvents, ds.Want.SharedLeads, ds.Want.SharedEventIDs)
			}
			if (sharedLeads > 0) != tt.shared || (sharedEvents > 0) != tt.reuse {
				t.Errorf("%d shared lead ids, %d shared event ids; want sharing %v, %v", sharedLeads, sharedEvents, tt.shared, tt.reuse)
			}
			for lead, ps := range partnersOfLead {
				if len(ps) > 1 && intersects(referrers, lead, ps) {
					t.Errorf("partners %v of lead %s share a referrer", slices.Sorted(maps.Keys(ps)), lead)
				}
			}
			checkOracle(t, &ds.Want, referrers)
		})
	}
}

func add(m map[string]map[string]bool, k, v string) {
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	m[k][v] = true
}

func countShared(m map[string]map[string]bool) int {
	n := 0
	for _, vs := range m {
		if len(vs) > 1 {
			n++
		}
	}
	return n
}

func intersects(referrers map[string]map[string]bool, lead string, partners map[string]bool) bool {
	seen := map[string]bool{}
	for p := range partners {
		for r := range referrers[schemas.Scoped(p, lead)] {
			if seen[r] {
				return true
			}
			seen[r] = true
		}
	}
	return false
}

// checkOracle requires the per-lead book to add up to the per-payee and
// per-currency books, and to pay only a lead's own referrers.
func checkOracle(t *testing.T, w *Expected, referrers map[string]map[string]bool) {
	t.Helper()
	byPayee, byCurrency := map[string]int64{}, map[string]int64{}
	for k, v := range w.CommissionByLeadPayee {
		lead, payeeCurrency, _ := strings.Cut(k, " ")
		payee, currency, _ := strings.Cut(payeeCurrency, " ")
		if !referrers[lead][payee] {
			t.Errorf("oracle pays %s on %s, which it never referred", payee, lead)
		}
		byPayee[payeeCurrency] += v
		byCurrency[currency] += v
	}
	for k, v := range w.CommissionByPayee {
		if byPayee[k] != v {
			t.Errorf("payee %s: %d by lead, %d in all", k, byPayee[k], v)
		}
	}
	if !maps.Equal(byCurrency, w.CommissionTotal) {
		t.Errorf("by lead %v, in all %v", byCurrency, w.CommissionTotal)
	}
}

func TestOptionsRefused(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]func(*Options){
		"fraction above one":  func(o *Options) { o.SharedLeadFraction = 1.5 },
		"negative fraction":   func(o *Options) { o.SharedEventIDFraction = -0.1 },
		"sharing one partner": func(o *Options) { o.Partners = []string{"solo"} },
	} {
		opts := DefaultOptions()
		o(&opts)
		if _, err := Generate(opts, devRules(t)); err == nil {
			t.Errorf("%s: generated", name)
		}
	}
}

// TestExpectedDiffNamesStrangers: a line for another partner's referrer on a
// lead is a difference even when it pays 0.
func TestExpectedDiffNamesStrangers(t *testing.T) {
	t.Parallel()
	mine := LeadPayeeKey("p-one", "L-1", "agent:a-001", "USD")
	theirs := LeadPayeeKey("p-one", "L-1", "agent:a-002", "USD")
	w := &Expected{CommissionByLeadPayee: map[string]int64{mine: 100}}
	tests := []struct {
		name    string
		landed  map[string]int64
		diffs   int
		strange int
	}{
		{"exact", map[string]int64{mine: 100}, 0, 0},
		{"stranger paid", map[string]int64{mine: 0, theirs: 100}, 2, 1},
		{"stranger with a zero line", map[string]int64{mine: 100, theirs: 0}, 1, 1},
		{"line missing", map[string]int64{}, 1, 0},
	}
	for _, tt := range tests {
		l := &Landed{CommissionByLeadPayee: tt.landed}
		if d := w.leadPayeeDiff(l); len(d) != tt.diffs {
			t.Errorf("%s: %d differences %v, want %d", tt.name, len(d), d, tt.diffs)
		}
		if s := w.Strangers(l); len(s) != tt.strange {
			t.Errorf("%s: strangers %v, want %d", tt.name, s, tt.strange)
		}
	}
}
