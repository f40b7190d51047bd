package commission

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// installmentRules pay as-earned commission by installment number (10 %
// of installments 1–12, 2 % after), the rest of auto at 10 % of the annual
// premium; home's chargeback window is 10 days.
const installmentRules = `{"schema_version": 2, "version": "inst-1",
  "rules": [
    {"id": "installment-early", "when": "sale_type == \"installment\" && installment_number <= 12", "amount": {"percent": "10"}},
    {"id": "installment-late", "when": "sale_type == \"installment\" && installment_number <= installment_count", "amount": {"percent": "2"}},
    {"id": "other", "when": "sale_type != \"installment\"", "amount": {"percent": "10"}}
  ],
  "chargeback_days": {"default": 365, "home": 10}}`

func installmentRuleSet(t testing.TB) *RuleSet {
	t.Helper()
	rs, err := ParseRules([]byte(installmentRules))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// installmentAtt is attribution att-1 of installment number of `of` of
// policy P-1 (annual premium 1200.00 USD), for the month from effective,
// paid wholly to agent A-7; inst nil makes it a sale of sale type sale
// without one.
func installmentAtt(line, sale string, inst *schemas.Installment, effective string) (schemas.Envelope, schemas.AttributionCalculated) {
	env, att := attEnvelope(line, sale, "1200.00", "USD", 1, tp{"A-7", "agent", 10000})
	att.Policy.TermMonths, att.Policy.EffectiveDate, att.Policy.Installment = 1, effective, inst
	if inst == nil {
		att.Policy.TermMonths = 12
	}
	env.Payload, _ = json.Marshal(att)
	return env, att
}

func installmentMsg(line string, inst *schemas.Installment, effective string) worker.Message {
	env, _ := installmentAtt(line, schemas.SaleInstallment, inst, effective)
	b, _ := json.Marshal(env)
	return worker.Message{Partition: leadPartition, Key: schemas.LeadKey("acme", "L-1"), Value: b}
}

// TestInstallmentBase (issue #18, installments): an installment's
// commission is priced on its own premium, not the annual one, under rules
// that read its number; an installment sale without a valid installment
// is a bad premium, never priced on the annual premium.
func TestInstallmentBase(t *testing.T) {
	t.Parallel()
	rs := installmentRuleSet(t)
	tests := []struct {
		name string
		sale string
		inst *schemas.Installment
		want string // the accrual "amount/rule base premium", or the reject code
	}{
		{"third of twelve", schemas.SaleInstallment, &schemas.Installment{Number: 3, Of: 12, Premium: "100.00"}, "1000/installment-early base 10000 premium 10000"},
		{"twelfth", schemas.SaleInstallment, &schemas.Installment{Number: 12, Of: 24, Premium: "100.00"}, "1000/installment-early base 10000 premium 10000"},
		{"thirteenth", schemas.SaleInstallment, &schemas.Installment{Number: 13, Of: 24, Premium: "100.00"}, "200/installment-late base 10000 premium 10000"},
		{"odd cents", schemas.SaleInstallment, &schemas.Installment{Number: 1, Of: 7, Premium: "171.43"}, "1714/installment-early base 17143 premium 17143"},
		{"new business: annual premium", schemas.SaleNewBusiness, nil, "12000/other base 120000 premium 120000"},
		{"installment missing", schemas.SaleInstallment, nil, CodeBadPremium},
		{"number above of", schemas.SaleInstallment, &schemas.Installment{Number: 13, Of: 12, Premium: "100.00"}, CodeBadPremium},
		{"premium not money", schemas.SaleInstallment, &schemas.Installment{Number: 1, Of: 12, Premium: "1e2"}, CodeBadPremium},
		{"installment on a renewal", schemas.SaleRenewal, &schemas.Installment{Number: 1, Of: 12, Premium: "100.00"}, CodeBadPremium},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, att := installmentAtt("auto", tt.sale, tt.inst, "2026-02-01")
			es, err := accruals(rs, env, att)
			if err != nil {
				if !worker.IsPermanent(err) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %v, want %s", err, tt.want)
				}
				return
			}
			if len(es) != 1 {
				t.Fatalf("accruals %+v", es)
			}
			e := es[0]
			if got := fmt.Sprintf("%d/%s base %d premium %d", e.AmountMinor, e.RuleID, e.BaseMinor, e.PremiumMinor); got != tt.want {
				t.Errorf("accrued %s, want %s", got, tt.want)
			}
		})
	}
}

// TestInstallmentClawback (issue #18, installments): as-earned commission is
// earned as the installment's period runs, so a cancellation claws back the
// unearned share of that installment's own period (its effective date and
// term_months), pro rata by day, inside the rule set's chargeback window,
// and reinstates as the usual clawback does. Installment 2 pays for
// February 2026 (28 days) and earned 10.00.
func TestInstallmentClawback(t *testing.T) {
	t.Parallel()
	inst := &schemas.Installment{Number: 2, Of: 12, Premium: "100.00"}
	tests := []struct {
		name, line string
		on         []string // cancellation dates, in arrival order
		posts      string   // what the last one posted
		balance    string
	}{
		{"half the month left", "auto", []string{"2026-02-15"}, "agent:A-7=-500/clawback", "agent:A-7 USD=500"},
		{"one day left", "auto", []string{"2026-02-28"}, "agent:A-7=-36/clawback", "agent:A-7 USD=964"},
		{"on the first day", "auto", []string{"2026-02-01"}, "agent:A-7=-1000/clawback", ""},
		{"before its period", "auto", []string{"2026-01-20"}, "agent:A-7=-1000/clawback", ""},
		{"after its period: earned", "auto", []string{"2026-03-01"}, "", "agent:A-7 USD=1000"},
		{"outside the window", "home", []string{"2026-02-15"}, "", "agent:A-7 USD=1000"},
		{"inside the window", "home", []string{"2026-02-08"}, "agent:A-7=-750/clawback", "agent:A-7 USD=250"},
		{"later date reinstates", "auto", []string{"2026-02-08", "2026-02-22"}, "agent:A-7=500/reinstatement", "agent:A-7 USD=750"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStage(t, installmentRuleSet(t))
			l := newLedger(t)
			l.add(s.batch(installmentMsg(tt.line, inst, "2026-02-01")))
			var got []posted
			for i, on := range tt.on {
				got = l.add(s.batch(cancelMsg(fmt.Sprintf("cancel-%d", i), "att-1", on)))
			}
			if e := entries(got); e != tt.posts {
				t.Errorf("posted %q, want %q", e, tt.posts)
			}
			if b := render(l.balances()); b != tt.balance {
				t.Errorf("balance %q, want %q", b, tt.balance)
			}
		})
	}
}

// TestInstallmentScheduleProperty: over a schedule of monthly installments
// cancelled on a random date, what the agent keeps is every installment
// whose period ended in full, plus the earned days' share of the one in
// force, never less than 0 nor more than it was paid, whatever the premium.
// attribute forwards the cancellation to the installment in force only, and
// no later installment is issued.
func TestInstallmentScheduleProperty(t *testing.T) {
	t.Parallel()
	rs := installmentRuleSet(t)
	r := rand.New(rand.NewPCG(18, 7))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 300 {
		of := 1 + r.IntN(24)
		premium := 1 + r.Int64N(10_000_00)
		begin := start.AddDate(0, 0, r.IntN(365))
		cancel := begin.AddDate(0, 0, r.IntN(of*31+10)-5)
		var kept, paid, want int64
		for n := 1; n <= of; n++ {
			eff := begin.AddDate(0, n-1, 0)
			if n > 1 && eff.After(cancel) {
				break // a cancelled policy collects no later installment
			}
			end := eff.AddDate(0, 1, 0)
			inst := &schemas.Installment{Number: n, Of: of, Premium: fmt.Sprintf("%d.%02d", premium/100, premium%100)}
			env, att := installmentAtt("auto", schemas.SaleInstallment, inst, eff.Format(time.DateOnly))
			es, err := accruals(rs, env, att)
			if err != nil || len(es) != 1 {
				t.Fatalf("case %d installment %d: %v %+v", i, n, err, es)
			}
			amount := es[0].AmountMinor
			if rate := map[bool]int64{true: 100_000, false: 20_000}[n <= 12]; amount != PercentOf(premium, rate) {
				t.Fatalf("case %d installment %d: accrued %d on premium %d", i, n, amount, premium)
			}
			var clawed int64
			// The cancellation names the installment in force: the last
			// one issued. Those before it were earned in full.
			if last := n == of || begin.AddDate(0, n, 0).After(cancel); last {
				clawed = clawedBack(t, rs, att.Policy, es[0], cancel)
				term := int64(end.Sub(eff).Hours() / 24)
				unearned := min(max(int64(end.Sub(cancel).Hours()/24), 0), term)
				want += amount - proRata(amount, unearned, term)
			} else {
				want += amount
			}
			if clawed < 0 || clawed > amount {
				t.Fatalf("case %d installment %d: clawed %d of %d", i, n, clawed, amount)
			}
			paid += amount
			kept += amount - clawed
		}
		if kept != want || kept < 0 || kept > paid {
			t.Fatalf("case %d (%d installments of %d from %s, cancelled %s): kept %d, want %d of %d paid",
				i, of, premium, begin.Format(time.DateOnly), cancel.Format(time.DateOnly), kept, want, paid)
		}
	}
}

// clawedBack is what settle claws back of accrual a of policy p for a
// cancellation on cancel.
func clawedBack(t *testing.T, rs *RuleSet, p schemas.PolicyIssued, a schemas.JournalEntry, cancel time.Time) int64 {
	t.Helper()
	st := policyState{Accrued: true, Version: 1, RuleSetVersion: rs.Version, ChargebackDays: rs.ChargebackWindow(p.ProductLine), Policy: p,
		Standing: []standing{{Entry: a}}, Cancel: &cancelState{EventID: "c", On: cancel.Format(time.DateOnly)}, Cancellations: 1}
	es, _, err := settle(st, schemas.Envelope{EventID: "c", PartnerID: "acme", LeadID: "L-1", OccurredAt: cancel})
	if err != nil {
		t.Fatal(err)
	}
	var clawed int64
	for _, e := range es {
		clawed -= e.AmountMinor
	}
	return clawed
}

// TestInstallmentHold: hold conditions read the installment variables too,
// so a rule set can hold, say, installments past the first year for review.
func TestInstallmentHold(t *testing.T) {
	t.Parallel()
	rs, err := ParseRules([]byte(strings.Replace(installmentRules, `"chargeback_days"`,
		`"holds": [{"id": "late", "when": "installment_number > 12", "reason": "manual"}], "chargeback_days"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		number int
		held   bool
	}{{12, false}, {13, true}} {
		s := newStage(t, rs)
		got := newLedger(t).add(s.batch(installmentMsg("auto", &schemas.Installment{Number: tt.number, Of: 24, Premium: "100.00"}, "2026-02-01")))
		held := false
		for _, p := range got {
			held = held || p.Kind == schemas.EntryDecision && p.Decision == schemas.DecisionHold
		}
		if held != tt.held {
			t.Errorf("installment %d: held %v, want %v (posted %s)", tt.number, held, tt.held, entries(got))
		}
	}
}
