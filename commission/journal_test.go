package commission

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reftrack/reftrack/commission/statement"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// posted is one record the stage wrote to commissions, read with the field
// names journal entries and the lines before them share.
type posted struct {
	ID          string `json:"-"`
	Period      string `json:"period"`
	Kind        string `json:"kind"`
	PayeeType   string `json:"payee_type"`
	PayeeID     string `json:"payee_id"`
	Currency    string `json:"currency"`
	AmountMinor int64  `json:"amount_minor"`
	Corrects    string `json:"corrects"`
	Version     int64  `json:"attribution_version"`
	Attribution string `json:"attribution_id"`
	PartnerID   string `json:"partner_id"`
	HoldUntil   string `json:"hold_until"`
	Decision    string `json:"decision"`
	Level       int    `json:"override_level"`
	raw         string
}

func (p posted) payee() string { return p.PayeeType + ":" + p.PayeeID + " " + p.Currency }

// ledger is what the stage wrote, as ClickHouse holds it: by record id,
// a record with an id already written replacing it (FINAL). In a journal
// that never happens; rewritten lists the ids for which it did.
type ledger struct {
	t         *testing.T
	byID      map[string]posted
	order     []string
	rewritten []string
}

func newLedger(t *testing.T) *ledger { return &ledger{t: t, byID: map[string]posted{}} }

// decodeOut reads the records of one result.
func decodeOut(t *testing.T, r worker.Result) []posted {
	t.Helper()
	var out []posted
	for _, o := range r.Out {
		var e schemas.Envelope
		if err := json.Unmarshal(o.Value, &e); err != nil {
			t.Fatal(err)
		}
		var p posted
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatal(err)
		}
		p.ID, p.raw = e.EventID, string(o.Value)
		out = append(out, p)
	}
	return out
}

// add records a committed batch's results and returns what it posted.
func (l *ledger) add(res []worker.Result) []posted {
	l.t.Helper()
	var all []posted
	for _, r := range res {
		if r.Err != nil {
			l.t.Fatalf("unexpected reject: %v", r.Err)
		}
		for _, p := range decodeOut(l.t, r) {
			if _, seen := l.byID[p.ID]; seen {
				l.rewritten = append(l.rewritten, p.ID)
			} else {
				l.order = append(l.order, p.ID)
			}
			l.byID[p.ID] = p
			all = append(all, p)
		}
	}
	return all
}

// balances are the sums per payee and currency, zero sums left out.
func (l *ledger) balances() map[string]int64 {
	b := map[string]int64{}
	for _, p := range l.byID {
		b[p.payee()] += p.AmountMinor
	}
	for k, v := range b {
		if v == 0 {
			delete(b, k)
		}
	}
	return b
}

func render(m map[string]int64) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// entries renders posted records as sorted "type:id=amount/kind".
func entries(ps []posted) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s:%s=%d/%s", p.PayeeType, p.PayeeID, p.AmountMinor, p.Kind))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// TestSupersededVersionIsReversed (issue #13: a superseded version's
// lines, overrides included, were restated in place): a new version posts
// a reversal of every accrual of the one before it, overrides included,
// each correcting the accrual it reverses, and writes no id twice.
func TestSupersededVersionIsReversed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		v2       []tp
		posts    string
		balances string
	}{
		{"payee kept without credit", []tp{{"A-1", "agent", 0}, {"A-2", "agent", 10000}},
			"agency:AG-1=-15000/reversal agent:A-1=-150000/reversal agent:A-1=0/accrual agent:A-2=150000/accrual mga:M-1=-7500/reversal",
			"agent:A-2 USD=150000"},
		{"payee gone", []tp{{"A-2", "agent", 10000}},
			"agency:AG-1=-15000/reversal agent:A-1=-150000/reversal agent:A-2=150000/accrual mga:M-1=-7500/reversal", "agent:A-2 USD=150000"},
		{"unattributed", nil, "agency:AG-1=-15000/reversal agent:A-1=-150000/reversal mga:M-1=-7500/reversal", ""},
		{"same payee", lifePolicy, "agency:AG-1=-15000/reversal agency:AG-1=15000/accrual agent:A-1=-150000/reversal agent:A-1=150000/accrual " +
			"mga:M-1=-7500/reversal mga:M-1=7500/accrual", "agency:AG-1 USD=15000 agent:A-1 USD=150000 mga:M-1 USD=7500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStage(t, rules(t))
			l := newLedger(t)
			v1 := l.add(s.batch(attMsg("life", "new_business", "10000.00", 1, lifePolicy...)))
			v2 := l.add(s.batch(attMsg("life", "new_business", "10000.00", 2, tt.v2...)))
			if got := entries(v2); got != tt.posts {
				t.Errorf("version 2 posted\n got %s\nwant %s", got, tt.posts)
			}
			if got := render(l.balances()); got != tt.balances {
				t.Errorf("balances\n got %s\nwant %s", got, tt.balances)
			}
			if len(l.rewritten) > 0 {
				t.Errorf("ids written twice: %v", l.rewritten)
			}
			corrected := map[string]bool{}
			for _, p := range v2 {
				if p.Kind == schemas.EntryReversal {
					corrected[p.Corrects] = true
				}
			}
			for _, p := range v1 {
				if !corrected[p.ID] {
					t.Errorf("accrual %s (%s) of version 1 not reversed", p.ID, p.payee())
				}
			}
			again := l.add(s.batch(attMsg("life", "new_business", "10000.00", 2, tt.v2...)))
			if stale := l.add(s.batch(attMsg("life", "new_business", "10000.00", 1, lifePolicy...))); len(again)+len(stale) > 0 {
				t.Errorf("a resent version and a stale one posted %s", entries(append(again, stale...)))
			}
		})
	}
}

// TestCancellationInForce (issue #13: a policy cancelled twice was clawed
// back twice; a later date was ignored): the last cancellation is the one
// in force; each posts only the difference it makes, clawbacks for more
// unearned, reinstatements for less.
func TestCancellationInForce(t *testing.T) {
	t.Parallel()
	s := newStage(t, rules(t))
	l := newLedger(t)
	l.add(s.batch(attMsg("life", "new_business", "10000.00", 1, lifePolicy...)))
	steps := []struct {
		name, on, posts, balances string
	}{
		// 183 of 365 days unearned: 1500.00 → 752.05, 150.00 → 75.21, 75.00 → 37.60.
		{"first", "2026-07-02", "agency:AG-1=-7521/clawback agent:A-1=-75205/clawback mga:M-1=-3760/clawback",
			"agency:AG-1 USD=7479 agent:A-1 USD=74795 mga:M-1 USD=3740"},
		{"same date again", "2026-07-02", "", "agency:AG-1 USD=7479 agent:A-1 USD=74795 mga:M-1 USD=3740"},
		// 275 days: 1130.14 − 752.05, 113.01 − 75.21, 56.51 − 37.60.
		{"earlier date", "2026-04-01", "agency:AG-1=-3780/clawback agent:A-1=-37809/clawback mga:M-1=-1891/clawback",
			"agency:AG-1 USD=3699 agent:A-1 USD=36986 mga:M-1 USD=1849"},
		// 92 days: 378.08, 37.81, 18.90 stay clawed; the rest comes back.
		{"later date", "2026-10-01", "agency:AG-1=7520/reinstatement agent:A-1=75206/reinstatement mga:M-1=3761/reinstatement",
			"agency:AG-1 USD=11219 agent:A-1 USD=112192 mga:M-1 USD=5610"},
		{"after the term: nothing unearned", "2027-01-01", "agency:AG-1=3781/reinstatement agent:A-1=37808/reinstatement mga:M-1=1890/reinstatement",
			"agency:AG-1 USD=15000 agent:A-1 USD=150000 mga:M-1 USD=7500"},
		{"before the term: all of it", "2025-12-01", "agency:AG-1=-15000/clawback agent:A-1=-150000/clawback mga:M-1=-7500/clawback", ""},
		{"earlier still", "2025-11-01", "", ""},
	}
	for i, step := range steps {
		got := l.add(s.batch(cancelMsg(fmt.Sprintf("cancel-%d", i), "att-1", step.on)))
		if e := entries(got); e != step.posts {
			t.Errorf("%s (%s) posted\n got %s\nwant %s", step.name, step.on, e, step.posts)
		}
		if b := render(l.balances()); b != step.balances {
			t.Errorf("%s (%s) balances\n got %s\nwant %s", step.name, step.on, b, step.balances)
		}
	}
	if len(l.rewritten) > 0 {
		t.Errorf("ids written twice: %v", l.rewritten)
	}
}

// TestLateTouchAfterCancellation (issue #13: a touch arriving after a
// cancellation re-attributed and paid again): the new version's accruals
// are clawed back as far as the cancellation in force makes them unearned.
func TestLateTouchAfterCancellation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		v2       []tp
		balances string
	}{
		// 183 of 365 days unearned of each accrual, whoever earns it now;
		// shared, the policy's capped 1500.00 is split, 750.00 each.
		{"credit moves", []tp{{"A-2", "agent", 10000}}, "agent:A-2 USD=74795"},
		{"credit shared", []tp{{"A-1", "agent", 5000}, {"A-2", "agent", 5000}},
			"agency:AG-1 USD=3740 agent:A-1 USD=37397 agent:A-2 USD=37397 mga:M-1 USD=1870"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStage(t, rules(t))
			l := newLedger(t)
			l.add(s.batch(attMsg("life", "new_business", "10000.00", 1, lifePolicy...)))
			l.add(s.batch(cancelMsg("cancel-1", "att-1", "2026-07-02")))
			l.add(s.batch(attMsg("life", "new_business", "10000.00", 2, tt.v2...)))
			if got := render(l.balances()); got != tt.balances {
				t.Errorf("balances after the late touch\n got %s\nwant %s", got, tt.balances)
			}
			if len(l.rewritten) > 0 {
				t.Errorf("ids written twice: %v", l.rewritten)
			}
		})
	}
}

// TestCancellationBeforeAttribution (issue #13: a cancellation that came
// before its issue was dropped and the issue then paid in full): the stage
// keeps it and claws back when the attribution arrives, in the same batch
// or a later one.
func TestCancellationBeforeAttribution(t *testing.T) {
	t.Parallel()
	want := "agency:AG-1 USD=7479 agent:A-1 USD=74795 mga:M-1 USD=3740"
	for _, oneBatch := range []bool{false, true} {
		t.Run(fmt.Sprintf("one batch=%v", oneBatch), func(t *testing.T) {
			t.Parallel()
			s := newStage(t, rules(t))
			l := newLedger(t)
			cancel, att := cancelMsg("cancel-1", "att-1", "2026-07-02"), attMsg("life", "new_business", "10000.00", 1, lifePolicy...)
			if oneBatch {
				l.add(s.batch(cancel, att))
			} else {
				l.add(s.batch(cancel))
				s.loseRedis() // and it survives losing Redis
				l.add(s.batch(att))
			}
			if got := render(l.balances()); got != want {
				t.Errorf("balances\n got %s\nwant %s", got, want)
			}
		})
	}
}

// adjMsg is adjustment request id of partner, as consumed.
func adjMsg(partner, id, payee, currency string, amount int64, actor string) worker.Message {
	typ, pid, _ := strings.Cut(payee, ":")
	payload, _ := json.Marshal(schemas.AdjustmentRequested{RequestID: id, PayeeID: pid, PayeeType: typ, Currency: currency,
		AmountMinor: amount, Actor: actor, Reason: "goodwill"})
	at := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
	b, _ := json.Marshal(schemas.Envelope{EventID: id, EventType: schemas.TypeAdjustmentRequested, SchemaVersion: 1,
		OccurredAt: at, ReceivedAt: &at, PartnerID: partner, LeadID: "adjustment:" + id, Payload: payload})
	return worker.Message{Partition: 2, Key: schemas.LeadKey(partner, "adjustment:"+id), Value: b}
}

// TestAdjustment: a manual adjustment is one entry per partner's request,
// however often the request comes; an incomplete one is refused.
func TestAdjustment(t *testing.T) {
	t.Parallel()
	s := newStage(t, rules(t))
	l := newLedger(t)
	first := l.add(s.batch(adjMsg("acme", "req-1", "agent:A-1", "USD", -1234, "ops@acme")))
	l.add(s.batch(adjMsg("acme", "req-1", "agent:A-1", "USD", -1234, "ops@acme"), adjMsg("other", "req-1", "agent:A-1", "USD", 500, "ops@other")))
	if got := render(l.balances()); got != "agent:A-1 USD=-734" {
		t.Errorf("balances %s, want agent:A-1 USD=-734", got)
	}
	if len(first) != 1 || first[0].Kind != schemas.EntryAdjustment || first[0].Period != "2026-03" {
		t.Errorf("posted %+v", first)
	}
	res := s.batch(adjMsg("acme", "req-2", "agent:A-1", "USD", 100, ""), adjMsg("acme", "req-3", "agent:A-1", "XXX", 100, "ops"),
		adjMsg("acme", "req-4", "agent:A-1", "USD", 0, "ops"))
	for i, r := range res {
		if !worker.IsPermanent(r.Err) || !strings.Contains(r.Err.Error(), CodeBadAdjustment) {
			t.Errorf("request %d: %v, want %s", i, r.Err, CodeBadAdjustment)
		}
	}
}

// TestAccrualSaysWhy: every accrual carries its derivation.
func TestAccrualSaysWhy(t *testing.T) {
	t.Parallel()
	rs := rules(t)
	tests := []struct {
		name, line, premium string
		tps                 []tp
		payee               string
		want                map[string]any
	}{
		{"cap", "life", "10000.00", lifePolicy, "agent:A-1", map[string]any{"rate": "30", "cap_applied": true, "base_minor": 1000000.0,
			"weight_bp": 10000.0, "rule_id": "life-first-year", "period": "2026-01", "premium_minor": 1000000.0, "kind": "accrual"}},
		{"override", "life", "10000.00", lifePolicy, "mga:M-1", map[string]any{"rate": "5", "base_minor": 150000.0, "override_level": 2.0,
			"rule_id": "override:2"}},
		{"minimum", "life", "100.00", lifePolicy, "agent:A-1", map[string]any{"min_applied": true, "amount_minor": 5000.0}},
		{"bands", "home", "6000.00", []tp{{"A-2", "agent", 10000}}, "agent:A-2", map[string]any{"rate": "bands",
			"band": "15@100000,10@400000,5@100000"}},
		// 10 % of 1000.10 = 100.01 split in halves: the odd cent is the
		// residue of agent:A-1; the base is the policy's premium, and the
		// gold uplift names itself in the rule.
		{"residue", "auto", "1000.10", []tp{{"A-1", "agent", 5000}, {"A-2", "agent", 5000}}, "agent:A-1",
			map[string]any{"residue_minor": 1.0, "base_minor": 100010.0, "rate": "10", "rule_id": "auto+gold-uplift", "amount_minor": 6001.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, att := attEnvelope(tt.line, "new_business", tt.premium, "USD", 1, tt.tps...)
			got, err := Lines(rs, env, att)
			if err != nil {
				t.Fatal(err)
			}
			var found map[string]any
			for _, e := range got {
				var m map[string]any
				if err := json.Unmarshal(e.Payload, &m); err != nil {
					t.Fatal(err)
				}
				if m["payee_type"].(string)+":"+m["payee_id"].(string) == tt.payee {
					found = m
				}
			}
			if found == nil {
				t.Fatalf("no entry for %s", tt.payee)
			}
			for k, v := range tt.want {
				if found[k] != v {
					t.Errorf("%s = %v, want %v (entry %v)", k, found[k], v, found)
				}
			}
		})
	}
}

// propRules: an upline chain on agent:A, a cap, and a short window so that
// cancellations fall inside and outside it.
const propRules = `{"schema_version":2,"version":"prop","payees":{"agent:A":{"upline":"agency:G"},"agency:G":{"upline":"mga:M"},"mga:M":{}},
 "rules":[{"id":"life","when":"product_line == \"life\"","amount":{"percent":"30","cap":{"USD":"1500.00"}}},
          {"id":"all","when":"true","amount":{"percent":"10"}}],
 "overrides":["10","5"],"chargeback_days":{"default":200}}`

// propRulesB is the rule set a reload swaps in: other rates, cap,
// overrides, a shorter chargeback window and a free-look hold on life.
const propRulesB = `{"schema_version":2,"version":"prop-b","payees":{"agent:A":{"upline":"agency:G"},"agency:G":{"upline":"mga:M"},"mga:M":{}},
 "rules":[{"id":"life","when":"product_line == \"life\"","amount":{"percent":"25","cap":{"USD":"1400.00"}}},
          {"id":"all","when":"true","amount":{"percent":"12"}}],
 "overrides":["8","4"],"chargeback_days":{"default":120},"hold_days":{"life":45}}`

// propParams are a rule set's numbers as the oracle reads them, apart
// from the stage's parser: percents, the life cap, override percents and
// the chargeback window.
type propParams struct {
	life, all, lifeCap, ov1, ov2 int64
	window                       int
}

var (
	propParamsA = propParams{life: 30, all: 10, lifeCap: 150000, ov1: 10, ov2: 5, window: 200}
	propParamsB = propParams{life: 25, all: 12, lifeCap: 140000, ov1: 8, ov2: 4, window: 120}
)

// propPolicy is one conversion of the property test.
type propPolicy struct {
	attID, lead string
	partition   int32
	policy      schemas.PolicyIssued
	sent        int64 // the highest version sent
	// the oracle's view
	version  int64
	touches  []tp            // of the version in force
	paidBy   propParams      // the rule set that journaled it
	declined map[string]bool // payees whose accrual of the version in force is declined
	has      bool
	cancel   string // date of the cancellation in force
}

var propPayees = []string{"agent:A", "agent:B", "broker:C", "customer:D"}

// oracleLines are a version's gross amounts per payee, computed apart from
// the stage under the rule set that journaled it: the policy's commission
// (life: 30 % capped at 1500.00, else 10 %; after a reload 25 %, 1400.00
// and 12 %, half away from zero), split by weight, and the override
// percents of agent:A's amount to agency:G and mga:M.
func (p *propPolicy) oracleLines(t *testing.T) map[string]int64 {
	premium := int64(0)
	whole, frac, _ := strings.Cut(p.policy.AnnualPremium, ".")
	if _, err := fmt.Sscan(whole+frac, &premium); err != nil {
		t.Fatal(err)
	}
	byPayee := map[string]int{}
	for _, x := range p.touches {
		byPayee[x.typ+":"+x.id] += x.w
	}
	var shares []Share
	for k, w := range byPayee {
		shares = append(shares, Share{Payee: k, WeightBP: w})
	}
	sort.Slice(shares, func(i, j int) bool { return shares[i].Payee < shares[j].Payee })
	out := map[string]int64{}
	r := p.paidBy
	commission := (premium*r.all + 50) / 100
	if p.policy.ProductLine == "life" {
		commission = min((premium*r.life+50)/100, r.lifeCap)
	}
	for i, amount := range Split(commission, shares) {
		out[shares[i].Payee] += amount
		if shares[i].Payee == "agent:A" && amount > 0 {
			out["agency:G"] += (amount*r.ov1 + 50) / 100
			out["mga:M"] += (amount*r.ov2 + 50) / 100
		}
	}
	return out
}

// oracleClawed is what the cancellation in force takes of amount: the
// unearned days of the 12-month term, when cancelled within the window of
// the rule set that paid (200 or 120 days) of the effective date, rounded
// half up.
func (p *propPolicy) oracleClawed(amount int64) int64 {
	if p.cancel == "" || amount <= 0 {
		return 0
	}
	eff, _ := time.Parse(time.DateOnly, p.policy.EffectiveDate)
	on, _ := time.Parse(time.DateOnly, p.cancel)
	end := eff.AddDate(1, 0, 0)
	term := int64(end.Sub(eff) / (24 * time.Hour))
	unearned := min(int64(end.Sub(on)/(24*time.Hour)), term)
	if on.After(eff.AddDate(0, 0, p.paidBy.window)) || unearned <= 0 {
		return 0
	}
	return (2*amount*unearned + term) / (2 * term)
}

func (p *propPolicy) message(version int64, touches []tp, received time.Time) worker.Message {
	att := schemas.AttributionCalculated{Version: version, PolicyEventID: "pe-" + p.attID, PaidModel: "linear", Policy: p.policy}
	for _, x := range touches {
		att.Touchpoints = append(att.Touchpoints, schemas.Touchpoint{Touch: schemas.Touch{EventID: "e-" + x.id, ReferrerID: x.id, ReferrerType: x.typ},
			Weights: map[string]int{"linear": x.w}})
	}
	payload, _ := json.Marshal(att)
	b, _ := json.Marshal(schemas.Envelope{EventID: p.attID, EventType: schemas.TypeAttributionCalculated, SchemaVersion: 1,
		OccurredAt: received, ReceivedAt: &received, PartnerID: "acme", LeadID: p.lead, Payload: payload})
	return worker.Message{Partition: p.partition, Key: schemas.LeadKey("acme", p.lead), Value: b}
}

// decideMessage is decision request id on accrual entry of the policy.
func (p *propPolicy) decideMessage(id, entry, decision string, received time.Time) worker.Message {
	payload, _ := json.Marshal(schemas.DecisionRequested{RequestID: id, EntryID: entry, AttributionID: p.attID,
		Decision: decision, Actor: "ops", Reason: "property"})
	b, _ := json.Marshal(schemas.Envelope{EventID: id, EventType: schemas.TypeDecisionRequested, SchemaVersion: 1,
		OccurredAt: received, ReceivedAt: &received, PartnerID: "acme", LeadID: p.lead, Payload: payload})
	return worker.Message{Partition: p.partition, Key: schemas.LeadKey("acme", p.lead), Value: b}
}

// propLineKeys are the accrual line keys of each payee an approval or a
// decline of it covers: a direct accrual's overrides go with it.
var propLineKeys = map[string][]string{
	"agent:A":  {"agent:A", "agency:G", "mga:M"},
	"agency:G": {"agency:G"}, "mga:M": {"mga:M"},
	"agent:B": {"agent:B"}, "broker:C": {"broker:C"}, "customer:D": {"customer:D"},
}

// propLineKey is the stage's line key of payee's accrual (accrualID).
func propLineKey(payee string) string {
	if payee == "agency:G" || payee == "mga:M" {
		return "agent:A|override|" + payee
	}
	return payee
}

func (p *propPolicy) cancelMessage(id, on string, received time.Time) worker.Message {
	payload, _ := json.Marshal(schemas.AttributionCancelled{AttributionID: p.attID, CancelledOn: on, CancelEventID: id, Policy: p.policy})
	b, _ := json.Marshal(schemas.Envelope{EventID: id, EventType: schemas.TypeAttributionCancelled, SchemaVersion: 1,
		OccurredAt: received, ReceivedAt: &received, PartnerID: "acme", LeadID: p.lead, Payload: payload})
	return worker.Message{Partition: p.partition, Key: schemas.LeadKey("acme", p.lead), Value: b}
}

// propOracle is the property test's independent account of what each
// payee is owed.
type propOracle struct {
	policies    []*propPolicy
	adjustments map[string]int64 // "partner|request" → amount, applied once
	adjPayee    map[string]string
}

func (o *propOracle) balances(t *testing.T) map[string]int64 {
	b := map[string]int64{}
	for _, p := range o.policies {
		if !p.has {
			continue
		}
		for payee, amount := range p.oracleLines(t) {
			if p.declined[payee] {
				continue // its accrual, clawbacks and reversal sum to 0
			}
			b[payee+" "+p.policy.Currency] += amount - p.oracleClawed(amount)
		}
	}
	for k, v := range o.adjustments {
		b[o.adjPayee[k]] += v
	}
	for k, v := range b {
		if v == 0 {
			delete(b, k)
		}
	}
	return b
}

// step is one input record and what the oracle learns from it.
type step struct {
	msg   worker.Message
	apply func()
	what  string
	alone bool // a decision: in a batch of its own
}

// TestJournalProperty runs random sequences of attribution versions (new,
// resent, stale), cancellations (repeated, earlier, later, before the
// attribution), adjustments (some resent), approvals and declines (some
// resent), rule reloads (another rule set: rates, cap, overrides, window,
// free-look hold), period closes (in month order, per partner or all) and
// statement runs through the stage, with Redis lost and batches aborted now
// and then, and checks after every committed batch: balances per payee and
// currency equal an independent oracle; no entry id is written twice (so no
// entry is ever changed); no accrual is reversed twice or corrected beyond
// what it paid; a reversed accrual nets to zero with its corrections; every
// entry is posted in the period of the record that caused it, or the first
// open one after it; no closed period's sums change; a redo after an abort
// posts the same ids; and statements of closed periods, re-run, come back
// with the totals delivered, no entry paid by two of them.
func TestJournalProperty(t *testing.T) {
	t.Parallel()
	rs, err := ParseRules([]byte(propRules))
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			runProperty(t, rs, seed, 70)
		})
	}
}

func runProperty(t *testing.T, rs *RuleSet, seed uint64, steps int) {
	r := rand.New(rand.NewPCG(seed, 13))
	s := newStage(t, rs)
	rsB, err := ParseRules([]byte(propRulesB))
	if err != nil {
		t.Fatal(err)
	}
	cur := propParamsA
	books := newPropBooks()
	l := newLedger(t)
	o := &propOracle{adjustments: map[string]int64{}, adjPayee: map[string]string{}, policies: []*propPolicy{
		{attID: "att-life", lead: "L-1", partition: 1, policy: schemas.PolicyIssued{PolicyID: "P-1", ProductLine: "life",
			AnnualPremium: "10000.00", Currency: "USD", TermMonths: 12, EffectiveDate: "2026-01-01", SaleType: "new_business"}},
		{attID: "att-auto", lead: "L-2", partition: 3, policy: schemas.PolicyIssued{PolicyID: "P-2", ProductLine: "auto",
			AnnualPremium: "1234.57", Currency: "EUR", TermMonths: 12, EffectiveDate: "2026-03-15", SaleType: "new_business"}},
	}}
	var cancels []struct{ id, on string }
	var requests []worker.Message
	sentReq := map[string]worker.Message{}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var decisions []worker.Message
	// decide approves or declines a positive accrual of p's version in
	// force that is not declined (and those its decision covers), or
	// resends an earlier request; false when there is none to decide.
	decide := func(p *propPolicy) (step, bool) {
		if len(decisions) > 0 && r.IntN(4) == 0 {
			return step{msg: decisions[r.IntN(len(decisions))], apply: func() {}, what: "decision resent", alone: true}, true
		}
		var open []string
		for payee, amount := range p.oracleLines(t) {
			if p.has && amount > 0 && !p.declined[payee] {
				open = append(open, payee)
			}
		}
		if len(open) == 0 {
			return step{}, false
		}
		sort.Strings(open)
		payee, verb := open[r.IntN(len(open))], []string{schemas.DecisionApprove, schemas.DecisionDecline}[r.IntN(2)]
		m := p.decideMessage(fmt.Sprintf("dec-%d", len(decisions)), accrualID(p.attID, p.version, propLineKey(payee)), verb, clock)
		decisions = append(decisions, m)
		apply := func() {}
		if verb == schemas.DecisionDecline {
			apply = func() {
				for _, k := range propLineKeys[payee] {
					p.declined[k] = true
				}
			}
		}
		return step{msg: m, apply: apply, what: fmt.Sprintf("%s %s of %s v%d", verb, payee, p.attID, p.version), alone: true}, true
	}
	next := func(first bool) step {
		clock = clock.Add(time.Duration(r.IntN(20*24)) * time.Hour)
		p := o.policies[r.IntN(len(o.policies))]
		if first && r.IntN(4) == 0 {
			if st, ok := decide(p); ok {
				return st
			}
		}
		switch k := r.IntN(100); {
		case k < 35 || p.sent == 0 && k < 50: // a new version
			v, touches := p.sent+1+int64(r.IntN(3)), randomTouches(r)
			p.sent = v
			return step{msg: p.message(v, touches, clock), what: fmt.Sprintf("%s v%d %v", p.attID, v, touches), apply: func() {
				p.version, p.touches, p.paidBy, p.has, p.declined = v, touches, cur, true, map[string]bool{}
			}}
		case k < 45: // resent or stale: nothing changes
			v := max(p.sent-int64(r.IntN(2)), 0)
			return step{p.message(v, randomTouches(r), clock), func() {}, fmt.Sprintf("%s old v%d", p.attID, v), false}
		case k < 75:
			on := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(460)).Format(time.DateOnly)
			id := fmt.Sprintf("cancel-%d", len(cancels))
			if len(cancels) > 0 && r.IntN(3) == 0 {
				c := cancels[r.IntN(len(cancels))] // resent, maybe after another date
				id, on = c.id, c.on
			} else {
				cancels = append(cancels, struct{ id, on string }{id, on})
			}
			return step{p.cancelMessage(id+"-"+p.attID, on, clock), func() { p.cancel = on }, fmt.Sprintf("%s cancelled %s", p.attID, on), false}
		default:
			if len(requests) > 0 && r.IntN(3) == 0 {
				return step{requests[r.IntN(len(requests))], func() {}, "adjustment resent", false}
			}
			partner, payee := []string{"acme", "other"}[r.IntN(2)], propPayees[r.IntN(len(propPayees))]
			cur, amount, id := []string{"USD", "EUR"}[r.IntN(2)], int64(r.IntN(20001)-10000), fmt.Sprintf("req-%d", r.IntN(5))
			if amount == 0 {
				amount = 1
			}
			key := partner + "|" + id
			if first, dup := sentReq[key]; dup {
				return step{first, func() {}, "adjustment id reused", false} // the same request
			}
			m := adjMsg(partner, id, payee, cur, amount, "ops")
			sentReq[key] = m
			requests = append(requests, m)
			return step{m, func() { o.adjustments[key], o.adjPayee[key] = amount, payee+" "+cur }, fmt.Sprintf("adjust %s %s %d", payee, cur, amount), false}
		}
	}
	var history []string
	for i := 0; i < steps; i++ {
		if r.IntN(10) == 0 { // a rule reload: the next batch reads the other rule set
			if cur == propParamsA {
				s.c.Use(rsB)
				cur = propParamsB
			} else {
				s.c.Use(rs)
				cur = propParamsA
			}
			history = append(history, "rules reloaded")
		}
		if r.IntN(8) == 0 {
			if what := books.closeNext(t, s, l, []string{"acme", "other", schemas.AllPartners}[r.IntN(3)], clock); what != "" {
				history = append(history, what)
			}
		}
		batch := []step{next(true)}
		// A decision goes alone: in a batch after a new version of its
		// policy, it would name a superseded accrual.
		for !batch[0].alone && len(batch) < 3 && r.IntN(4) == 0 {
			batch = append(batch, next(false))
		}
		msgs := make([]worker.Message, len(batch))
		for j, st := range batch {
			msgs[j] = st.msg
			history = append(history, st.what)
		}
		if r.IntN(12) == 0 {
			s.loseRedis()
			history = append(history, "redis lost")
		}
		var abortedIDs []string
		if r.IntN(8) == 0 {
			res, err := s.h.Aborted(context.Background(), s.c, msgs)
			if err != nil {
				t.Fatal(err)
			}
			for _, rr := range res {
				for _, p := range decodeOut(t, rr) {
					abortedIDs = append(abortedIDs, p.ID)
				}
			}
		}
		res := s.batch(msgs...)
		for _, st := range batch {
			st.apply()
		}
		var ids []string
		for j, rr := range res {
			for _, p := range decodeOut(t, rr) {
				ids = append(ids, p.ID)
				var env schemas.Envelope
				_ = json.Unmarshal(msgs[j].Value, &env)
				if want := books.openFrom(env.ReceivedAt.UTC().Format("2006-01"), env.PartnerID); p.Period != want {
					t.Fatalf("step %d: entry %s posted in %s, want %s: its cause was received in %s, closed %v",
						i, p.ID, p.Period, want, env.ReceivedAt.UTC().Format("2006-01"), books.closed)
				}
			}
		}
		if abortedIDs != nil && strings.Join(abortedIDs, ",") != strings.Join(ids, ",") {
			t.Fatalf("step %d: the redo after an abort posted other ids\n aborted %v\n redo    %v", i, abortedIDs, ids)
		}
		l.add(res)
		if got, want := render(l.balances()), render(o.balances(t)); got != want {
			t.Fatalf("step %d: balances\n got %s\nwant %s\nhistory:\n  %s", i, got, want, strings.Join(history, "\n  "))
		}
		checkJournal(t, l, i)
		books.checkFrozen(t, l, i)
		if r.IntN(5) == 0 {
			books.payStatements(t, l, i)
			history = append(history, "statements run")
		}
	}
	books.payStatements(t, l, steps)
	kinds := map[string]int{}
	for _, p := range l.byID {
		kinds[p.Kind]++
	}
	t.Logf("seed %d: %d entries by kind %v; %d period closes, %d statements delivered paying %d entries",
		seed, len(l.byID), kinds, len(books.frozen), len(books.delivered), len(books.paidIn))
}

// propBooks are the property test's account of period closes and payouts:
// which periods are closed for which partner (closes go in month order, to
// every partition in use), each closed period's sums when it closed, and
// the statements delivered with the entries each paid.
type propBooks struct {
	closed    map[string]map[string]bool // partner (or AllPartners) → YYYY-MM
	last      map[string]string          // partner → the last month closed
	frozen    map[string]string          // "partner period" → its sums at the close
	delivered map[string]int64           // statement (payee, currency, period, number) → total
	paidIn    map[string]string          // entry id → the statement that paid it
}

func newPropBooks() *propBooks {
	return &propBooks{closed: map[string]map[string]bool{}, last: map[string]string{}, frozen: map[string]string{},
		delivered: map[string]int64{}, paidIn: map[string]string{}}
}

// closeNext closes partner's next month (from 2026-01) unless it is after
// clock's, on every partition the test uses, and freezes its sums.
func (b *propBooks) closeNext(t *testing.T, s *stage, l *ledger, partner string, clock time.Time) string {
	t.Helper()
	period := "2026-01"
	if last := b.last[partner]; last != "" {
		period = nextMonth(last)
	}
	if period > clock.Format("2006-01") {
		return ""
	}
	for _, res := range s.batch(closeMsg(partner, period, 1), closeMsg(partner, period, 2), closeMsg(partner, period, 3)) {
		if res.Err != nil || len(res.Out) > 0 {
			t.Fatalf("close %s %s: %+v", partner, period, res)
		}
	}
	if b.closed[partner] == nil {
		b.closed[partner] = map[string]bool{}
	}
	b.closed[partner][period], b.last[partner] = true, period
	b.frozen[partner+" "+period] = render(closedSums(l, partner, period))
	return "closed " + period + " for " + partner
}

// openFrom is the period an entry of partner caused in period posts in:
// the first month from it closed neither for partner nor for all.
func (b *propBooks) openFrom(period, partner string) string {
	for b.closed[partner][period] || b.closed[schemas.AllPartners][period] {
		period = nextMonth(period)
	}
	return period
}

func nextMonth(period string) string {
	m, _ := time.Parse("2006-01", period)
	return m.AddDate(0, 1, 0).Format("2006-01")
}

// closedSums are the sums per payee of partner's entries (every partner's
// for AllPartners) posted in period.
func closedSums(l *ledger, partner, period string) map[string]int64 {
	out := map[string]int64{}
	for _, p := range l.byID {
		if p.Period == period && (partner == schemas.AllPartners || p.PartnerID == partner) {
			out[p.payee()] += p.AmountMinor
		}
	}
	return out
}

// checkFrozen: no closed period changed since its close.
func (b *propBooks) checkFrozen(t *testing.T, l *ledger, step int) {
	t.Helper()
	for k, was := range b.frozen {
		partner, period, _ := strings.Cut(k, " ")
		if now := render(closedSums(l, partner, period)); now != was {
			t.Fatalf("step %d: closed period %s of %s changed\n was %s\n now %s", step, period, partner, was, now)
		}
	}
}

// payStatements runs statements for every closed period, as the command
// does: the entries released in it (statement.Payout), delivered once the
// period is closed for every partner in it. A statement delivered before
// must come back with the same total (a re-run pays nothing again), and
// no entry may be paid by two statements.
func (b *propBooks) payStatements(t *testing.T, l *ledger, step int) {
	t.Helper()
	lines := make([]statement.Line, 0, len(l.byID))
	for _, id := range l.order {
		p := l.byID[id]
		lines = append(lines, statement.Line{LineID: id, PayeeType: p.PayeeType, PayeeID: p.PayeeID, Currency: p.Currency,
			AmountMinor: p.AmountMinor, Kind: p.Kind, Corrects: p.Corrects, OverrideLevel: p.Level, Period: p.Period + "-01",
			PartnerID: p.PartnerID, HoldUntil: p.HoldUntil, Decision: p.Decision, AttributionID: p.Attribution})
	}
	periods := map[string]bool{}
	for _, ps := range b.closed {
		for period := range ps {
			periods[period] = true
		}
	}
	for period := range periods {
		from, _ := time.Parse("2006-01", period)
		pay, _ := statement.Payout(lines, from, from.AddDate(0, 1, 0))
		ss, err := statement.Build(pay, from, from.AddDate(0, 1, 0))
		if err != nil {
			t.Fatal(err)
		}
		payable, _ := statement.Payable(ss, b.closed)
		for _, st := range payable {
			key := fmt.Sprintf("%s %s:%s %s %s #%d", st.PartnerID, st.PayeeType, st.PayeeID, st.Currency, st.Period, st.Number)
			if was, ok := b.delivered[key]; ok {
				if was != st.TotalMinor {
					t.Fatalf("step %d: statement %s delivered with %d now totals %d", step, key, was, st.TotalMinor)
				}
				continue
			}
			b.delivered[key] = st.TotalMinor
			for _, x := range st.Lines {
				if prev := b.paidIn[x.LineID]; prev != "" && prev != key {
					t.Fatalf("step %d: entry %s paid twice: by %s and %s", step, x.LineID, prev, key)
				}
				b.paidIn[x.LineID] = key
			}
		}
	}
}

func randomTouches(r *rand.Rand) []tp {
	n := r.IntN(4) // 0: unattributed
	if n == 0 {
		return nil
	}
	touches := make([]tp, n)
	left := 10_000
	for i := range touches {
		w := left
		if i < n-1 {
			w = r.IntN(left + 1)
		}
		left -= w
		typ, id, _ := strings.Cut(propPayees[r.IntN(len(propPayees))], ":")
		touches[i] = tp{id, typ, w}
	}
	return touches
}

// checkJournal holds the journal's invariants over everything posted.
func checkJournal(t *testing.T, l *ledger, step int) {
	t.Helper()
	if len(l.rewritten) > 0 {
		t.Fatalf("step %d: entry ids written twice (an entry changed): %v", step, l.rewritten)
	}
	type acc struct {
		amount, corrected int64
		reversals         int
		claws             int64
	}
	accruals := map[string]*acc{}
	for _, id := range l.order {
		p := l.byID[id]
		switch p.Kind {
		case schemas.EntryAccrual:
			if p.AmountMinor < 0 {
				t.Fatalf("step %d: negative accrual %s", step, id)
			}
			accruals[id] = &acc{amount: p.AmountMinor}
		case schemas.EntryReversal, schemas.EntryClawback, schemas.EntryReinstatement:
			a := accruals[p.Corrects]
			if a == nil {
				t.Fatalf("step %d: %s %s corrects %q, no accrual posted before it", step, p.Kind, id, p.Corrects)
			}
			if a.reversals > 0 {
				t.Fatalf("step %d: %s %s corrects accrual %s after its reversal", step, p.Kind, id, p.Corrects)
			}
			a.corrected += p.AmountMinor
			if p.Kind == schemas.EntryReversal {
				a.reversals++
				if a.amount+a.corrected != 0 {
					t.Fatalf("step %d: reversed accrual %s nets to %d", step, p.Corrects, a.amount+a.corrected)
				}
			} else {
				a.claws += p.AmountMinor
			}
			if net := a.amount + a.corrected; net < 0 || net > a.amount || a.claws > 0 {
				t.Fatalf("step %d: accrual %s of %d corrected to %d (clawed %d): paid twice or clawed beyond it", step, p.Corrects, a.amount, net, a.claws)
			}
		case schemas.EntryDecision:
			if accruals[p.Corrects] == nil || p.AmountMinor != 0 {
				t.Fatalf("step %d: decision %s of %d corrects %q, no accrual posted before it", step, id, p.AmountMinor, p.Corrects)
			}
		case schemas.EntryAdjustment:
		default:
			t.Fatalf("step %d: entry %s of kind %q", step, id, p.Kind)
		}
	}
}

// legacyWriter puts one value into the commission stage's state, as the
// stage before the journal left it.
type legacyWriter struct {
	c          *Calculator
	key, value string
}

func (w legacyWriter) StateBackend() (redis.UniversalClient, string) { return w.c.StateBackend() }
func (w legacyWriter) ProcessBatch(context.Context, []worker.Message) ([]worker.Result, error) {
	return nil, nil
}
func (w legacyWriter) ProcessState(_ context.Context, st *worker.StateTxn, batch []worker.Message) ([]worker.Result, error) {
	st.Put(worker.StateKey{Partition: leadPartition, Key: w.key}, []byte(w.value), time.Hour)
	return make([]worker.Result, len(batch)), nil
}

// TestLegacyPaidState: what the stage paid before the journal (restated
// lines under paid:<attribution id>) is read as standing accruals under the
// old line ids: a cancellation claws only what was not clawed yet, and a
// new version reverses what stands of the old lines, naming them.
func TestLegacyPaidState(t *testing.T) {
	t.Parallel()
	s := newStage(t, rules(t))
	policy := `{"policy_id":"P-1","product_line":"life","annual_premium":"10000.00","currency":"USD","term_months":12,"effective_date":"2026-01-01","sale_type":"new_business"}`
	old := `{"version":1,"rule_set_version":"old","chargeback_days":730,"policy":` + policy + `,"lines":[
		{"id":"line-a1","line":{"payee_id":"A-1","payee_type":"agent","currency":"USD","amount_minor":150000,"kind":"commission","rule_id":"life-first-year"},"clawed_back_minor":1000},
		{"id":"line-ag1","line":{"payee_id":"AG-1","payee_type":"agency","currency":"USD","amount_minor":15000,"kind":"override","rule_id":"override:1","source_line_id":"line-a1"}},
		{"id":"line-gone","line":{"payee_id":"B-1","payee_type":"broker","currency":"USD","amount_minor":0,"kind":"commission","rule_id":"superseded"}}]}`
	if _, err := s.h.Batch(context.Background(), legacyWriter{s.c, "paid:att-1", old}, []worker.Message{{Partition: leadPartition}}); err != nil {
		t.Fatal(err)
	}
	// 183 of 365 days: 752.05 of line-a1 less the 10.00 already clawed; 75.21 of line-ag1.
	claws := outEntries(t, s.batch(cancelMsg("cancel-1", "att-1", "2026-07-02")))
	if got := entries(claws); got != "agency:AG-1=-7521/clawback agent:A-1=-74205/clawback" {
		t.Errorf("clawbacks of the old lines: %s", got)
	}
	v2 := outEntries(t, s.batch(attMsg("life", "new_business", "10000.00", 2, tp{"A-2", "agent", 10000})))
	corrects := map[string]int64{}
	for _, p := range v2 {
		if p.Kind == schemas.EntryReversal {
			corrects[p.Corrects] = p.AmountMinor
		}
	}
	if fmt.Sprint(corrects) != "map[line-a1:-74795 line-ag1:-7479]" {
		t.Errorf("reversals of the old lines: %v", corrects)
	}
}
