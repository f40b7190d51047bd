package commission

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// licenceRules are testdata/rules.json with referral fees: a flat fee in
// US-CA and US-NY, a capped one in US-TX, nothing in US-FL.
func licenceRules(t testing.TB) *RuleSet {
	t.Helper()
	b, err := os.ReadFile("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	doc["referral_fees"] = map[string]any{
		"US-CA": map[string]any{"flat": map[string]string{"USD": "25.00"}},
		"US-NY": map[string]any{"flat": map[string]string{"USD": "50.00"}},
		"US-TX": map[string]any{"cap": map[string]string{"USD": "100.00"}},
		"US-FL": map[string]any{},
	}
	b, _ = json.Marshal(doc)
	rs, err := ParseRules(b)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func testLicences(t testing.TB) *Licences {
	t.Helper()
	l, err := LoadLicences("testdata/licences.json")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// describeChecked renders entries as "payee=amount/rule/licence_check".
func describeChecked(es []schemas.JournalEntry) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = fmt.Sprintf("%s:%s=%d/%s/%s", e.PayeeType, e.PayeeID, e.AmountMinor, e.RuleID, e.LicenceCheck)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// TestLicenceCheckGolden (issue #18, licence-aware pay): a payee not
// licensed for the policy's jurisdiction and line on its effective date is
// paid the jurisdiction's referral fee instead of commission, and the entry
// says why; uplines are checked too; a v1 policy (no jurisdiction) is not
// checked. Hand-computed: life first year 10 000.00 USD pays 1500.00 (30 %
// capped); agent:A-1 holds US-CA life+auto 2025-01-01..2026-12-31 and US-TX
// life from 2026-06-01, agency:AG-1 US-CA life+auto, mga:M-1 US-CA auto.
func TestLicenceCheckGolden(t *testing.T) {
	t.Parallel()
	rs, lic := licenceRules(t), testLicences(t)
	tests := []struct {
		name, line, premium, jurisdiction, effective string
		tps                                          []tp
		want                                         string
	}{
		{"v1 policy skips the check", "life", "10000.00", "", "2026-01-01", lifePolicy,
			"agency:AG-1=15000/override:1/ agent:A-1=150000/life-first-year/ mga:M-1=7500/override:2/"},
		{"licensed, and so is the agency but not the MGA for life", "life", "10000.00", "US-CA", "2026-01-01", lifePolicy,
			"agency:AG-1=15000/override:1/licensed:US-CA:life agent:A-1=150000/life-first-year/licensed:US-CA:life mga:M-1=0/override:2/unlicensed:US-CA:life"},
		// 50.00 flat in full at 10 000 bp; a referral fee carries no override.
		{"unlicensed: flat referral fee, no overrides", "life", "10000.00", "US-NY", "2026-01-01", lifePolicy,
			"agent:A-1=5000/referral_fee:US-NY/unlicensed:US-NY:life"},
		{"licence expired before the sale", "life", "10000.00", "US-CA", "2027-01-01", lifePolicy,
			"agent:A-1=2500/referral_fee:US-CA/unlicensed:US-CA:life"},
		{"last day of the licence is licensed", "life", "10000.00", "US-CA", "2026-12-31", lifePolicy,
			"agency:AG-1=15000/override:1/licensed:US-CA:life agent:A-1=150000/life-first-year/licensed:US-CA:life mga:M-1=0/override:2/unlicensed:US-CA:life"},
		// 1500.00 of commission, capped at 100.00 in US-TX.
		{"licence not yet effective: capped fee", "life", "10000.00", "US-TX", "2026-01-01", lifePolicy,
			"agent:A-1=10000/referral_fee:US-TX/unlicensed:US-TX:life"},
		{"licensed from its effective date", "life", "10000.00", "US-TX", "2026-06-01", lifePolicy,
			"agency:AG-1=0/override:1/unlicensed:US-TX:life agent:A-1=150000/life-first-year/licensed:US-TX:life mga:M-1=0/override:2/unlicensed:US-TX:life"},
		// 10 % of 500.00 = 50.00, under the 100.00 cap: paid as it is.
		{"capped fee under its cap", "auto", "500.00", "US-TX", "2026-01-01", []tp{{"A-2", "agent", 10000}},
			"agent:A-2=5000/referral_fee:US-TX/unlicensed:US-TX:auto"},
		{"line not authorised", "home", "10000.00", "US-CA", "2026-01-01", lifePolicy,
			"agent:A-1=2500/referral_fee:US-CA/unlicensed:US-CA:home"},
		{"no fee in the jurisdiction", "life", "10000.00", "US-FL", "2026-01-01", lifePolicy,
			"agent:A-1=0/referral_fee:US-FL/unlicensed:US-FL:life"},
		{"jurisdiction not listed pays nothing", "life", "10000.00", "US-WA", "2026-01-01", lifePolicy,
			"agent:A-1=0/referral_fee:US-WA/unlicensed:US-WA:life"},
		// Halves: the licensed agent keeps its share (750.00) and its
		// overrides; the unlisted one gets half the 25.00 fee.
		{"split: each payee checked alone", "life", "10000.00", "US-CA", "2026-01-01", []tp{{"A-1", "agent", 5000}, {"X-9", "agent", 5000}},
			"agency:AG-1=7500/override:1/licensed:US-CA:life agent:A-1=75000/life-first-year/licensed:US-CA:life agent:X-9=1250/referral_fee:US-CA/unlicensed:US-CA:life mga:M-1=0/override:2/unlicensed:US-CA:life"},
		{"a reward is not commission: not checked", "auto", "1000.00", "US-NY", "2026-01-01", []tp{{"C-1", "customer", 10000}},
			"customer:C-1=2500/customer-reward/"},
		// The gold uplift is commission too: 100.00 + 20.00, overrides 12.00, 6.00.
		{"uplift when licensed", "auto", "1000.00", "US-CA", "2026-01-01", lifePolicy,
			"agency:AG-1=1200/override:1/licensed:US-CA:auto agent:A-1=12000/auto+gold-uplift/licensed:US-CA:auto mga:M-1=600/override:2/licensed:US-CA:auto"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, att := attEnvelope(tt.line, "new_business", tt.premium, "USD", 1, tt.tps...)
			att.Policy.Jurisdiction, att.Policy.EffectiveDate = tt.jurisdiction, tt.effective
			got, err := accrualsFor(rs, Reference{Licences: lic}, env, att)
			if err != nil {
				t.Fatal(err)
			}
			if s := describeChecked(got); s != tt.want {
				t.Errorf("entries\n got %s\nwant %s", s, tt.want)
			}
		})
	}
}

// TestReferralFeeWhy: the fee's derivation is on the entry.
func TestReferralFeeWhy(t *testing.T) {
	t.Parallel()
	rs, lic := licenceRules(t), testLicences(t)
	for _, tt := range []struct {
		jurisdiction, rate string
		base               int64
		capApplied         bool
	}{{"US-NY", "flat", 5000, false}, {"US-TX", "capped", 150000, true}, {"US-FL", "none", 0, false}} {
		env, att := attEnvelope("life", "new_business", "10000.00", "USD", 1, lifePolicy...)
		att.Policy.Jurisdiction = tt.jurisdiction
		got, err := accrualsFor(rs, Reference{Licences: lic}, env, att)
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %v %v", tt.jurisdiction, got, err)
		}
		e := got[0]
		if e.Rate != tt.rate || e.BaseMinor != tt.base || e.CapApplied != tt.capApplied || e.ResidueMinor != 0 || e.WeightBP != 10000 {
			t.Errorf("%s: rate %q base %d cap %v residue %d weight %d", tt.jurisdiction, e.Rate, e.BaseMinor, e.CapApplied, e.ResidueMinor, e.WeightBP)
		}
	}
	// A fee the rules state in no currency of the policy is not converted.
	env, att := attEnvelope("life", "new_business", "10000.00", "EUR", 1, lifePolicy...)
	att.Policy.Jurisdiction = "US-NY"
	_, err := accrualsFor(rs, Reference{Licences: lic}, env, att)
	var rej *worker.RejectError
	if !errorsAs(err, &rej) || rej.Reasons[0].Code != CodeNoRule {
		t.Errorf("EUR policy under a USD-only fee: %v, want %s", err, CodeNoRule)
	}
}

// TestLicenceCheckProperties: for random credit among licensed and
// unlicensed payees, a licensed payee's accrual is exactly what it is
// without a registry (the check only says so), an unlicensed one's is the
// flat fee pro rata to its weight, and nothing else pays; without a
// jurisdiction the registry changes nothing at all.
func TestLicenceCheckProperties(t *testing.T) {
	t.Parallel()
	rs, lic := licenceRules(t), testLicences(t)
	rng := rand.New(rand.NewPCG(18, 1))
	payees := []tp{{"A-1", "agent", 0}, {"A-2", "agent", 0}, {"X-1", "agent", 0}, {"Y-1", "broker", 0}}
	licensed := map[string]bool{"agent:A-1": true, "agent:A-2": true}
	for i := 0; i < 500; i++ {
		tps := make([]tp, len(payees))
		left := 10_000
		for j := range payees {
			w := left
			if j < len(payees)-1 {
				w = rng.IntN(left + 1)
			}
			tps[j], left = tp{payees[j].id, payees[j].typ, w}, left-w
		}
		premium := fmt.Sprintf("%d.%02d", rng.IntN(20000), rng.IntN(100))
		env, att := attEnvelope("life", "new_business", premium, "USD", 1, tps...)
		plain, err := accruals(rs, env, att)
		if err != nil {
			t.Fatal(err)
		}
		v1, err := accrualsFor(rs, Reference{Licences: lic}, env, att)
		if err != nil {
			t.Fatal(err)
		}
		if describeChecked(v1) != describeChecked(plain) {
			t.Fatalf("a v1 policy changed under the registry:\n%s\n%s", describeChecked(v1), describeChecked(plain))
		}
		att.Policy.Jurisdiction = "US-CA"
		checked, err := accrualsFor(rs, Reference{Licences: lic}, env, att)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{}
		for _, e := range plain {
			if e.OverrideLevel == 0 && licensed[e.PayeeType+":"+e.PayeeID] {
				want[e.EntryID] = e.AmountMinor
			}
		}
		for _, s := range tps {
			if !licensed[s.typ+":"+s.id] && s.w > 0 {
				want[accrualID(env.EventID, 1, s.typ+":"+s.id)] = proRata(2500, int64(s.w), 10_000)
			}
		}
		for _, e := range checked {
			if e.OverrideLevel > 0 {
				if e.PayeeID == "M-1" && e.AmountMinor != 0 {
					t.Fatalf("unlicensed MGA paid an override: %+v", e)
				}
				continue
			}
			if e.WeightBP == 0 {
				continue
			}
			if w, ok := want[e.EntryID]; !ok || w != e.AmountMinor {
				t.Fatalf("premium %s weights %v: %s:%s got %d, want %d (listed %v)", premium, tps, e.PayeeType, e.PayeeID, e.AmountMinor, w, ok)
			}
			delete(want, e.EntryID)
		}
		if len(want) > 0 {
			t.Fatalf("premium %s weights %v: not paid %v", premium, tps, want)
		}
	}
}

// TestParseLicences: the registry is checked at load, every problem at once.
func TestParseLicences(t *testing.T) {
	t.Parallel()
	if _, err := ParseLicences([]byte(`{"schema_version":1,"version":"v","payees":{}}`)); err != nil {
		t.Fatalf("empty registry: %v", err)
	}
	tests := []struct{ in, want string }{
		{`{"schema_version":1,"version":"v","payees":{"agent:A":{"licences":[{"jurisdiction":"CA","lines":["life"],"effective_on":"2026-01-01"}]}}}`, "jurisdiction"},
		{`{"schema_version":1,"version":"v","payees":{"agent:A":{"licences":[{"jurisdiction":"US-CA","lines":[],"effective_on":"2026-01-01"}]}}}`, "no lines"},
		{`{"schema_version":1,"version":"v","payees":{"agent:A":{"licences":[{"jurisdiction":"US-CA","lines":["life"],"effective_on":"2026-01-01","expires_on":"2025-01-01"}]}}}`, "before effective_on"},
		{`{"schema_version":1,"version":"v","payees":{"agent:A":{"licences":[{"jurisdiction":"US-CA","lines":["life"],"effective_on":"1/1/2026"}]}}}`, "effective_on"},
		{`{"schema_version":1,"version":"v","payees":{"agent:A":{"licences":[{"jurisdiction":"US-CA","lines":["life"],"effective_on":"2026-01-01","expiry":"2027-01-01"}]}}}`, "unknown field"},
		{`{"schema_version":1,"version":"v","payees":{"agent:A":{"payout_currency":"XXQ"}}}`, "payout_currency"},
		{`{"schema_version":1,"version":"v","payees":{"A":{}}}`, "type:id"},
		{`{"schema_version":1,"version":"v","payees":{"agent:A":{"appointments":[{"carrier":"","effective_on":"2026-01-01"}]}}}`, "no carrier"},
		{`{"schema_version":2,"payees":{}}`, "schema_version 2"},
	}
	for _, tt := range tests {
		_, err := ParseLicences([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.in, err, tt.want)
		}
	}
	// every problem at once
	_, err := ParseLicences([]byte(`{"schema_version":1,"version":"v","payees":{"agent:A":{"payout_currency":"XXQ","licences":[{"jurisdiction":"CA","lines":[],"effective_on":"x"}]}}}`))
	for _, want := range []string{"payout_currency", "jurisdiction", "no lines", "effective_on"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("all at once: %v lacks %q", err, want)
		}
	}
}

// TestReferralFeesInRules: the referral fees are part of rules v2, checked
// by its schema (jurisdiction keys, one kind) and at compile (money).
func TestReferralFeesInRules(t *testing.T) {
	t.Parallel()
	base := `{"schema_version":2,"version":"v","rules":[{"id":"a","when":"true","amount":{"percent":"1"}}],"referral_fees":%s}`
	for _, tt := range []struct{ fees, want string }{
		{`{"California":{"flat":{"USD":"1.00"}}}`, "schema"},
		{`{"US-CA":{"flat":{"USD":"1.00"},"cap":{"USD":"2.00"}}}`, "schema"},
		{`{"US-CA":{"percent":"5"}}`, "schema"},
		{`{"US-CA":{"flat":{"JPY":"1.50"}}}`, "referral_fees US-CA: flat"},
	} {
		_, err := ParseRules([]byte(fmt.Sprintf(base, tt.fees)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.fees, err, tt.want)
		}
	}
	if _, err := ParseRules([]byte(fmt.Sprintf(base, `{"US-CA":{"flat":{"USD":"25.00"}},"US-TX":{"cap":{"USD":"100.00"}},"US-FL":{}}`))); err != nil {
		t.Errorf("valid fees refused: %v", err)
	}
}

// TestDevReferenceFilesLoad: the dev stack's rules (with referral fees)
// and licence registry load, as the stage checks them at start.
func TestDevReferenceFilesLoad(t *testing.T) {
	t.Parallel()
	if _, err := LoadRules("../deploy/dev/rules.json"); err != nil {
		t.Error(err)
	}
	if _, err := LoadLicences("../deploy/dev/licences.json"); err != nil {
		t.Error(err)
	}
}

// FuzzParseLicences: a registry never panics the parser, and an accepted
// one answers every check.
func FuzzParseLicences(f *testing.F) {
	b, _ := os.ReadFile("testdata/licences.json")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLicences(b)
		if err != nil {
			return
		}
		for k, p := range l.Payees {
			for _, lic := range p.Licences {
				for _, line := range lic.Lines {
					if !l.Licensed(k, lic.Jurisdiction, line, lic.EffectiveOn) {
						t.Errorf("%s not licensed on its licence's first day: %+v", k, lic)
					}
				}
			}
		}
	})
}

// appointmentRegistry licenses agent:A-1 (appointed by acme-life from
// 2025-06-01), agency:AG-1 (appointed by acme-life through 2025-12-31) and
// mga:M-1 (no appointment) for life in US-CA.
func appointmentRegistry(t *testing.T) *Licences {
	t.Helper()
	l, err := ParseLicences([]byte(`{"schema_version": 1, "version": "appt-1", "payees": {
  "agent:A-1": {"licences": [{"jurisdiction": "US-CA", "lines": ["life"], "effective_on": "2025-01-01"}],
                "appointments": [{"carrier": "acme-life", "effective_on": "2025-06-01"}]},
  "agency:AG-1": {"licences": [{"jurisdiction": "US-CA", "lines": ["life"], "effective_on": "2020-01-01"}],
                  "appointments": [{"carrier": "acme-life", "effective_on": "2020-01-01", "expires_on": "2025-12-31"}]},
  "mga:M-1": {"licences": [{"jurisdiction": "US-CA", "lines": ["life"], "effective_on": "2020-01-01"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestAppointmentCheckGolden (issue #18, carrier appointments): on a policy
// naming its carrier, a licensed payee without an appointment by that
// carrier effective on the sale date is paid like an unlicensed one — the
// jurisdiction's referral fee, no overrides; an upline, an override of 0 —
// and the entry says not_appointed:<carrier>. The licence is judged first.
// Hand-computed: life 10 000.00 USD pays 1 500.00 (30 %, capped), overrides
// 10 % and 5 % of it; the US-CA fee is 25.00 flat.
func TestAppointmentCheckGolden(t *testing.T) {
	t.Parallel()
	rs, lic := licenceRules(t), appointmentRegistry(t)
	tests := []struct {
		name, carrier, effective, jurisdiction string
		want                                   string
	}{
		{"no carrier named: appointments not checked", "", "2025-03-01", "US-CA",
			"agency:AG-1=15000/override:1/licensed:US-CA:life agent:A-1=150000/life-first-year/licensed:US-CA:life mga:M-1=7500/override:2/licensed:US-CA:life"},
		{"appointed; an expired and a missing appointment earn no override", "acme-life", "2026-01-01", "US-CA",
			"agency:AG-1=0/override:1/not_appointed:acme-life agent:A-1=150000/life-first-year/licensed:US-CA:life mga:M-1=0/override:2/not_appointed:acme-life"},
		{"last day of an appointment is appointed", "acme-life", "2025-12-31", "US-CA",
			"agency:AG-1=15000/override:1/licensed:US-CA:life agent:A-1=150000/life-first-year/licensed:US-CA:life mga:M-1=0/override:2/not_appointed:acme-life"},
		{"before the appointment: the referral fee", "acme-life", "2025-05-31", "US-CA",
			"agent:A-1=2500/referral_fee:US-CA/not_appointed:acme-life"},
		{"another carrier: the referral fee", "other-co", "2026-01-01", "US-CA",
			"agent:A-1=2500/referral_fee:US-CA/not_appointed:other-co"},
		{"unlicensed says so, whatever the appointment", "acme-life", "2026-01-01", "US-NY",
			"agent:A-1=5000/referral_fee:US-NY/unlicensed:US-NY:life"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, att := attEnvelope("life", "new_business", "10000.00", "USD", 1, lifePolicy...)
			att.Policy.Jurisdiction, att.Policy.EffectiveDate, att.Policy.Carrier = tt.jurisdiction, tt.effective, tt.carrier
			got, err := accrualsFor(rs, Reference{Licences: lic}, env, att)
			if err != nil {
				t.Fatal(err)
			}
			if s := describeChecked(got); s != tt.want {
				t.Errorf("entries\n got %s\nwant %s", s, tt.want)
			}
		})
	}
}

// TestAppointmentCheckProperty: for every sale date around the
// appointments' bounds and every carrier, a payee is paid commission
// exactly when it is licensed and appointed by the policy's carrier that
// day, and an accrual not paid commission is the fee (direct) or 0
// (override), never more than with no registry.
func TestAppointmentCheckProperty(t *testing.T) {
	t.Parallel()
	rs, lic := licenceRules(t), appointmentRegistry(t)
	for _, carrier := range []string{"acme-life", "other-co"} {
		for _, day := range []string{"2019-12-31", "2020-01-01", "2025-05-31", "2025-06-01", "2025-12-31", "2026-01-01", "2030-01-01"} {
			env, att := attEnvelope("life", "new_business", "10000.00", "USD", 1, lifePolicy...)
			att.Policy.Jurisdiction, att.Policy.EffectiveDate, att.Policy.Carrier = "US-CA", day, carrier
			got, err := accrualsFor(rs, Reference{Licences: lic}, env, att)
			if err != nil {
				t.Fatal(err)
			}
			free, _ := accrualsFor(rs, Reference{}, env, att)
			freeOf := map[string]int64{}
			for _, e := range free {
				freeOf[e.PayeeType+":"+e.PayeeID] = e.AmountMinor
			}
			for _, e := range got {
				payee := e.PayeeType + ":" + e.PayeeID
				ok := lic.Licensed(payee, "US-CA", "life", day) && appointedOn(lic, payee, carrier, day)
				paidCommission := e.AmountMinor == freeOf[payee] && e.LicenceCheck == "licensed:US-CA:life"
				if ok != paidCommission {
					t.Errorf("%s %s: %s paid %d (%s), licensed and appointed %v", carrier, day, payee, e.AmountMinor, e.LicenceCheck, ok)
				}
				if !ok && e.OverrideLevel > 0 && e.AmountMinor != 0 {
					t.Errorf("%s %s: override of %s not appointed: %d", carrier, day, payee, e.AmountMinor)
				}
				if e.AmountMinor > freeOf[payee] {
					t.Errorf("%s %s: %s paid %d, more than without a registry", carrier, day, payee, e.AmountMinor)
				}
			}
		}
	}
}

// appointedOn is the test's own reading of an appointment: by carrier,
// from effective_on through expires_on (inclusive; none: open-ended).
func appointedOn(l *Licences, payee, carrier, day string) bool {
	for _, a := range l.Payees[payee].Appointments {
		if a.Carrier == carrier && a.EffectiveOn <= day && (a.ExpiresOn == "" || day <= a.ExpiresOn) {
			return true
		}
	}
	return false
}
