package commission

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/reftrack/reftrack/commission/audit"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

func testRates(t testing.TB) *Rates {
	t.Helper()
	r, err := LoadRates("testdata/rates.json")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestConvertGolden (issue #18, FX snapshot): exact, then rounded once,
// half to even, across currencies of 0, 2 and 3 minor digits.
func TestConvertGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		amount   int64
		from, to string
		rate     string
		want     int64
	}{
		{100, "USD", "EUR", "0.925", 92},    // 92.5 → 92 (even)
		{300, "USD", "EUR", "0.925", 278},   // 277.5 → 278 (even)
		{101, "USD", "EUR", "0.925", 93},    // 93.425 → 93
		{-100, "USD", "EUR", "0.925", -92},  // -92.5 → -92 (even)
		{-300, "USD", "EUR", "0.925", -278}, // -277.5 → -278
		{100, "USD", "JPY", "150.5", 150},   // 1.00 USD = 150.5 JPY → 150
		{300, "USD", "JPY", "150.5", 452},   // 451.5 → 452
		{1000, "JPY", "USD", "0.0067", 670}, // 1000 JPY = 6.70 USD
		{100, "USD", "BHD", "0.376", 376},   // 1.00 USD = 0.376 BHD
		{150000, "USD", "EUR", "0.9", 135000},
		{1, "USD", "EUR", "0.000000000001", 0},
		{0, "USD", "EUR", "0.9", 0},
	}
	for _, tt := range tests {
		got, err := Convert(tt.amount, tt.from, tt.to, tt.rate)
		if err != nil || got != tt.want {
			t.Errorf("Convert(%d %s→%s at %s) = %d, %v; want %d", tt.amount, tt.from, tt.to, tt.rate, got, err, tt.want)
		}
	}
	if _, err := Convert(1, "USD", "EUR", "abc"); err == nil {
		t.Error("a bad rate converted")
	}
}

// TestRatesLookup: the latest rate as of the time asked, none before the
// first, no inverse implied.
func TestRatesLookup(t *testing.T) {
	t.Parallel()
	r := testRates(t)
	day := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	tests := []struct {
		at, from, to, rate, source string
		ok                         bool
	}{
		{"2025-11-30T23:59:59Z", "USD", "EUR", "", "", false},
		{"2025-12-01T00:00:00Z", "USD", "EUR", "0.9", "dev-fixed", true},
		{"2025-12-30T12:00:00Z", "USD", "EUR", "0.9", "dev-fixed", true},
		{"2026-01-01T00:00:00Z", "USD", "EUR", "0.925", "ecb", true},
		{"2026-03-01T00:00:00Z", "USD", "EUR", "0.95", "ecb", true},
		{"2026-03-01T00:00:00Z", "EUR", "USD", "", "", false},
	}
	for _, tt := range tests {
		x, ok := r.Lookup(tt.from, tt.to, day(tt.at))
		if ok != tt.ok || x.Rate != tt.rate || x.Source != tt.source {
			t.Errorf("Lookup(%s→%s at %s) = %+v, %v; want %s from %s", tt.from, tt.to, tt.at, x, ok, tt.rate, tt.source)
		}
	}
	var none *Rates
	if _, ok := none.Lookup("USD", "EUR", day("2026-01-01T00:00:00Z")); ok {
		t.Error("no rates file found a rate")
	}
}

// TestParseRates: the rates file is checked at load, every problem at once.
func TestParseRates(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`{"schema_version":1,"version":"v","source":"s","rates":[{"from":"USD","to":"EUR","rate":"0.9","as_of":"2026-01-01T00:00:00Z"}]}`, ""},
		{`{"schema_version":1,"version":"v","source":"s","rates":[{"from":"USD","to":"EUR","rate":0.9,"as_of":"2026-01-01T00:00:00Z"}]}`, "decode"},
		{`{"schema_version":1,"version":"v","source":"s","rates":[{"from":"USD","to":"EUR","rate":"0","as_of":"2026-01-01T00:00:00Z"}]}`, "positive"},
		{`{"schema_version":1,"version":"v","source":"s","rates":[{"from":"USD","to":"EUR","rate":"1e3","as_of":"2026-01-01T00:00:00Z"}]}`, "positive"},
		{`{"schema_version":1,"version":"v","source":"s","rates":[{"from":"USD","to":"USD","rate":"1","as_of":"2026-01-01T00:00:00Z"}]}`, "into itself"},
		{`{"schema_version":1,"version":"v","source":"s","rates":[{"from":"USD","to":"XXQ","rate":"1","as_of":"2026-01-01T00:00:00Z"}]}`, "XXQ"},
		{`{"schema_version":1,"version":"v","source":"s","rates":[{"from":"USD","to":"EUR","rate":"1","as_of":"2026-01-01"}]}`, "RFC 3339"},
		{`{"schema_version":1,"version":"v","rates":[{"from":"USD","to":"EUR","rate":"1","as_of":"2026-01-01T00:00:00Z"}]}`, "no source"},
		{`{"schema_version":1,"version":"v","source":"s","rates":[{"from":"USD","to":"EUR","rate":"1","as_of":"2026-01-01T00:00:00Z"},{"from":"USD","to":"EUR","rate":"2","as_of":"2026-01-01T00:00:00Z"}]}`, "twice"},
		{`{"schema_version":1,"source":"s","rates":[]}`, "version: required"},
	}
	for _, tt := range tests {
		_, err := ParseRates([]byte(tt.in))
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: error %v, want %q", tt.in, err, tt.want)
		}
	}
}

// TestAccrualFXSnapshot: an accrual of a payee paid in another currency
// records the rate as of its attribution's receipt, its source and as-of,
// and the amount in the payout currency; one without a rate records only
// the currency (and is held, see TestFXMissingRateHold); a payee paid in
// the policy's currency, or not in the registry, records nothing.
func TestAccrualFXSnapshot(t *testing.T) {
	t.Parallel()
	rs, ref := licenceRules(t), Reference{Licences: testLicences(t), Rates: testRates(t)}
	// auto 1000.01 USD: 100.00 split 50.00 each (the odd cent of 100.001
	// rounds away); attEnvelope receives it 2026-01-01, so 0.925 (ecb,
	// as of 2025-12-31) applies: 5000 × 0.925 = 4625 EUR cents.
	env, att := attEnvelope("auto", "new_business", "1000.01", "USD", 1, tp{"A-2", "agent", 5000}, tp{"A-3", "agent", 5000})
	got, err := accrualsFor(rs, ref, env, att)
	if err != nil {
		t.Fatal(err)
	}
	missing, err := ref.convertAccruals(got, receivedAt(env))
	if err != nil {
		t.Fatal(err)
	}
	byPayee := map[string]schemas.JournalEntry{}
	for _, e := range got {
		byPayee[e.PayeeType+":"+e.PayeeID] = e
	}
	a2 := byPayee["agent:A-2"]
	if a2.PayoutCurrency != "EUR" || a2.PayoutAmountMinor != 4625 || a2.FXRate != "0.925" || a2.FXSource != "ecb" || a2.FXAsOf != "2025-12-31T00:00:00Z" {
		t.Errorf("A-2 (EUR): %+v", a2)
	}
	if cur, v := PayoutOf(a2); cur != "EUR" || v != 4625 {
		t.Errorf("PayoutOf(A-2) = %s %d", cur, v)
	}
	a3 := byPayee["agent:A-3"]
	if a3.PayoutCurrency != "JPY" || a3.FXRate != "" || a3.PayoutAmountMinor != 0 {
		t.Errorf("A-3 (JPY, no rate): %+v", a3)
	}
	if len(missing) != 1 || missing[0] != a3.EntryID {
		t.Errorf("missing %v, want A-3's %s", missing, a3.EntryID)
	}
	env2, att2 := attEnvelope("auto", "renewal", "1000.00", "USD", 1, tp{"B-N", "broker", 5000}, tp{"Z-1", "agent", 5000})
	plain, _ := accrualsFor(rs, ref, env2, att2)
	if _, err := ref.convertAccruals(plain, receivedAt(env2)); err != nil {
		t.Fatal(err)
	}
	for _, e := range plain {
		if e.PayoutCurrency != "" || e.FXRate != "" || e.PayoutAmountMinor != 0 {
			t.Errorf("%s paid in the policy's currency got an FX snapshot: %+v", e.PayeeID, e)
		}
	}
}

// TestPayoutDeltaProperties: whatever the rate and the clawbacks and
// reinstatements in between, an accrual and its corrections sum in the
// payout currency to the conversion of what stands, and to exactly 0 once
// reversed: a payout-currency statement reconciles with the journal to the
// minor unit. Converting each correction alone would not (half-even
// rounding of the parts drifts from the whole).
func TestPayoutDeltaProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(18, 2))
	rates := []string{"0.925", "1.5", "0.333333333333", "150.5", "0.0067"}
	pairs := [][2]string{{"USD", "EUR"}, {"USD", "JPY"}, {"JPY", "USD"}, {"USD", "BHD"}}
	drifted := false
	for i := 0; i < 2000; i++ {
		pair, rate := pairs[rng.IntN(len(pairs))], rates[rng.IntN(len(rates))]
		amount := rng.Int64N(1_000_000) + 1
		acc := schemas.JournalEntry{Currency: pair[0], AmountMinor: amount, PayoutCurrency: pair[1], FXRate: rate}
		first, err := Convert(amount, pair[0], pair[1], rate)
		if err != nil {
			t.Fatal(err)
		}
		sum, naive, clawed := first, first, int64(0)
		for k := 0; k < rng.IntN(4); k++ { // clawbacks and reinstatements
			target := rng.Int64N(amount + 1)
			before, after := amount-clawed, amount-target
			sum += payoutDelta(acc, before, after)
			part, _ := Convert(after-before, pair[0], pair[1], rate)
			naive += part
			clawed = target
		}
		want, _ := Convert(amount-clawed, pair[0], pair[1], rate)
		if sum != want {
			t.Fatalf("%d %s at %s clawed %d: payout sum %d, want %d", amount, pair, rate, clawed, sum, want)
		}
		sum += payoutDelta(acc, amount-clawed, 0) // the reversal
		part, _ := Convert(-(amount - clawed), pair[0], pair[1], rate)
		naive += part
		if sum != 0 {
			t.Fatalf("%d %s at %s: reversed accrual sums to %d in the payout currency", amount, pair, rate, sum)
		}
		drifted = drifted || naive != 0
	}
	if !drifted {
		t.Error("no case where converting each correction alone drifts: the property test is too weak")
	}
	if payoutDelta(schemas.JournalEntry{Currency: "USD", PayoutCurrency: "EUR"}, 100, 0) != 0 {
		t.Error("a correction of an accrual without a rate got a payout amount")
	}
}

// usCAMsg is attribution att-1 of an auto policy of 1000.00 USD written in
// US-CA (policy.issued v2), as consumed.
func usCAMsg(version int64, tps ...tp) worker.Message {
	env, att := attEnvelope("auto", "new_business", "1000.00", "USD", version, tps...)
	att.Policy.Jurisdiction = "US-CA"
	env.Payload, _ = json.Marshal(att)
	b, _ := json.Marshal(env)
	return worker.Message{Partition: leadPartition, Key: schemas.LeadKey("acme", "L-1"), Value: b}
}

// entryOf is the one entry of kind for payee among es.
func entryOf(t *testing.T, es []schemas.JournalEntry, kind, payee string) schemas.JournalEntry {
	t.Helper()
	var found []schemas.JournalEntry
	for _, e := range es {
		if e.Kind == kind && e.PayeeType+":"+e.PayeeID == payee {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s entries of %s in %+v", len(found), kind, payee, es)
	}
	return found[0]
}

// TestStageLicenceAndFX runs the stage (issue #18): the licence check and
// the FX snapshot on the accruals, the fx:missing_rate hold on the one the
// rates cannot convert, and corrections (a clawback, a decline, a new
// version) whose payout amounts keep each payee's payout-currency balance
// at the conversion of what stands, to the minor unit. Hand-computed: 10 %
// of 1000.00 split in halves; agent:A-2 (licensed, paid in EUR at 0.925 as
// of the receipt on 2026-01-01); agent:A-3 (unlicensed in US-CA: half the
// 25.00 fee; paid in JPY, for which there is no rate). Cancelled on
// 2026-07-02: 183 of 365 days unearned.
func TestStageLicenceAndFX(t *testing.T) {
	t.Parallel()
	s := newStage(t, licenceRules(t))
	s.c.Licences.Store(testLicences(t))
	s.c.FXRates.Store(testRates(t))
	var all []schemas.JournalEntry

	j1 := journalOf(t, s.batch(usCAMsg(1, tp{"A-2", "agent", 5000}, tp{"A-3", "agent", 5000})))
	all = append(all, j1...)
	a2, a3 := entryOf(t, j1, schemas.EntryAccrual, "agent:A-2"), entryOf(t, j1, schemas.EntryAccrual, "agent:A-3")
	if a2.AmountMinor != 5000 || a2.LicenceCheck != "licensed:US-CA:auto" || a2.PayoutCurrency != "EUR" || a2.PayoutAmountMinor != 4625 ||
		a2.FXRate != "0.925" || a2.FXSource != "ecb" || a2.FXAsOf != "2025-12-31T00:00:00Z" {
		t.Errorf("A-2 accrual: %+v", a2)
	}
	if a3.AmountMinor != 1250 || a3.RuleID != "referral_fee:US-CA" || a3.LicenceCheck != "unlicensed:US-CA:auto" || a3.PayoutCurrency != "JPY" || a3.FXRate != "" {
		t.Errorf("A-3 accrual: %+v", a3)
	}
	hold := entryOf(t, j1, schemas.EntryDecision, "agent:A-3")
	if hold.Decision != DecisionHold || hold.Reason != HoldFXMissingRate || hold.Corrects != a3.EntryID || hold.Actor != "rule:fx@2026-11-30.1" {
		t.Errorf("A-3 hold: %+v", hold)
	}
	if len(j1) != 3 {
		t.Errorf("%d entries, want 2 accruals and the hold: %+v", len(j1), j1)
	}

	// 5000 × 183/365 = 2506.85 → 2507 clawed; 2493 stands, 2306.025 → 2306 EUR.
	j2 := journalOf(t, s.batch(cancelMsg("c-1", "att-1", "2026-07-02")))
	all = append(all, j2...)
	if c := entryOf(t, j2, schemas.EntryClawback, "agent:A-2"); c.AmountMinor != -2507 || c.PayoutAmountMinor != 2306-4625 || c.FXRate != "0.925" {
		t.Errorf("A-2 clawback: %+v", c)
	}
	if c := entryOf(t, j2, schemas.EntryClawback, "agent:A-3"); c.AmountMinor != -627 || c.PayoutAmountMinor != 0 {
		t.Errorf("A-3 clawback: %+v", c)
	}

	j3 := journalOf(t, s.batch(decideMsg("d-1", a2.EntryID, schemas.DecisionDecline, "ops", "test")))
	all = append(all, j3...)
	if r := entryOf(t, j3, schemas.EntryReversal, "agent:A-2"); r.AmountMinor != -2493 || r.PayoutAmountMinor != -2306 {
		t.Errorf("A-2 decline reversal: %+v", r)
	}

	// Version 2, all to A-2: 10000 → 9250 EUR; 10000 × 183/365 → 5014
	// clawed, 4986 stands: 4612.05 → 4612 EUR.
	j4 := journalOf(t, s.batch(usCAMsg(2, tp{"A-2", "agent", 10000})))
	all = append(all, j4...)
	if a := entryOf(t, j4, schemas.EntryAccrual, "agent:A-2"); a.PayoutAmountMinor != 9250 {
		t.Errorf("A-2 v2 accrual: %+v", a)
	}
	if r := entryOf(t, j4, schemas.EntryReversal, "agent:A-3"); r.AmountMinor != -623 || r.PayoutAmountMinor != 0 {
		t.Errorf("A-3 reversal: %+v", r)
	}

	// The payout-currency statement of each payee: the sum of PayoutOf.
	payout := map[string]int64{}
	for _, e := range all {
		cur, v := PayoutOf(e)
		payout[e.PayeeID+" "+cur] += v
	}
	want := map[string]int64{"A-2 EUR": 4612, "A-3 USD": 0}
	for k, v := range want {
		if payout[k] != v {
			t.Errorf("payout balance %s = %d, want %d (all %v)", k, payout[k], v, payout)
		}
	}
	if len(payout) != len(want) {
		t.Errorf("payout balances %v, want %v", payout, want)
	}
}

// TestVerifyLicenceAndFXEntries (issue #18): the licence check and the FX
// snapshot are hashed fields, so ClickHouse must give them back (migration
// 0011, audit.Read) for verify to recompute every hash; a changed rate is
// caught.
func TestVerifyLicenceAndFXEntries(t *testing.T) {
	t.Parallel()
	s := newStage(t, licenceRules(t))
	s.c.Licences.Store(testLicences(t))
	s.c.FXRates.Store(testRates(t))
	var outs []worker.Output
	for _, m := range []worker.Message{usCAMsg(1, tp{"A-2", "agent", 5000}, tp{"A-3", "agent", 5000}), datedCancel("c-1", "att-1", "2026-07-02")} {
		for _, r := range s.batch(m) {
			outs = append(outs, r.Out...)
		}
	}
	conn := sinkDB(t, outs)
	ctx := context.Background()
	stored, err := audit.Read(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	if err := audit.Check(&report, stored); err != nil || len(stored) != len(outs) {
		t.Fatalf("%d of %d entries read, %v\n%s", len(stored), len(outs), err, report.String())
	}
	converted := 0
	for _, e := range stored {
		if e.FXRate != "" && e.LicenceCheck != "" && e.PayoutAmountMinor != 0 {
			converted++
		}
	}
	if converted != 2 { // A-2's accrual and clawback
		t.Errorf("%d entries read back with their snapshot, want 2: %+v", converted, stored)
	}
	if err := conn.Exec(ctx, "ALTER TABLE commission_entries UPDATE fx_rate = '0.99' WHERE fx_rate != ''"); err != nil {
		t.Fatal(err)
	}
	awaitMutations(t, conn)
	if stored, err = audit.Read(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if err := audit.Check(io.Discard, stored); !errors.Is(err, audit.ErrBroken) {
		t.Errorf("a changed rate verified: %v", err)
	}
}

// FuzzParseRates: a rates file never panics the parser, and every rate of
// an accepted file converts.
func FuzzParseRates(f *testing.F) {
	b, _ := os.ReadFile("testdata/rates.json")
	f.Add(b)
	f.Add([]byte(`{"schema_version":1,"version":"v","source":"s","rates":[{"from":"JPY","to":"BHD","rate":"0.002512","as_of":"2026-01-01T00:00:00+09:00"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRates(b)
		if err != nil {
			return
		}
		for _, x := range r.Rates {
			if _, err := Convert(123456789, x.From, x.To, x.Rate); err != nil {
				t.Errorf("accepted rate %+v does not convert: %v", x, err)
			}
		}
	})
}

// TestFXHoldOnce: an accrual without a rate is held fx:missing_rate once,
// with an id of its own (not a hold rule's), and not again when a hold rule
// holds it already.
func TestFXHoldOnce(t *testing.T) {
	t.Parallel()
	rs := licenceRules(t)
	a := schemas.JournalEntry{EntryID: "acc-1", Kind: schemas.EntryAccrual, AmountMinor: 100, Currency: "USD", PayoutCurrency: "JPY"}
	b := schemas.JournalEntry{EntryID: "acc-2", Kind: schemas.EntryAccrual, AmountMinor: 100, Currency: "USD", PayoutCurrency: "JPY"}
	ruleHold := holdEntry(rs, &HoldRule{ID: "banned", Reason: "fraud:banned_referrer"}, b)
	got := fxHolds(rs, Reference{}, []schemas.JournalEntry{a, b}, []schemas.JournalEntry{ruleHold}, []string{"acc-1", "acc-2"})
	if len(got) != 1 || got[0].Corrects != "acc-1" || got[0].Reason != HoldFXMissingRate || got[0].Actor != "rule:fx@none" || got[0].EntryID == ruleHold.EntryID {
		t.Errorf("fx holds %+v", got)
	}
	if got := fxHolds(rs, Reference{}, []schemas.JournalEntry{a}, nil, nil); len(got) != 0 {
		t.Errorf("held without a missing rate: %+v", got)
	}
}

// TestModelVersionOnEntries (issue #18, data-driven payouts): an
// attribution paid by a trained model names its version, and every entry
// computed from it carries that version, hashed like any field, so
// ClickHouse must give it back (migration 0012, audit.Read) for verify.
func TestModelVersionOnEntries(t *testing.T) {
	t.Parallel()
	s := newStage(t, licenceRules(t))
	env, att := attEnvelope("auto", "new_business", "1000.00", "USD", 1, tp{"A-2", "agent", 5000}, tp{"A-3", "agent", 5000})
	att.PaidModel, att.ModelVersion = "markov", "mk-2026-11-30"
	for i := range att.Touchpoints {
		att.Touchpoints[i].Weights["markov"] = att.Touchpoints[i].Weights["linear"]
	}
	env.Payload, _ = json.Marshal(att)
	b, _ := json.Marshal(env)
	var outs []worker.Output
	for _, r := range s.batch(worker.Message{Partition: leadPartition, Key: schemas.LeadKey("acme", "L-1"), Value: b}) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		outs = append(outs, r.Out...)
	}
	conn := sinkDB(t, outs)
	stored, err := audit.Read(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Check(io.Discard, stored); err != nil || len(stored) != len(outs) || len(stored) == 0 {
		t.Fatalf("%d of %d entries read, %v", len(stored), len(outs), err)
	}
	for _, e := range stored {
		if e.Kind == schemas.EntryAccrual && (e.Model != "markov" || e.ModelVersion != "mk-2026-11-30") {
			t.Errorf("accrual of %s: model %q version %q, want markov mk-2026-11-30", e.PayeeID, e.Model, e.ModelVersion)
		}
	}
}
