package sample

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// installmentRecord is what TestGenerateInstallments reads of a record.
type installmentRecord struct {
	Type    string `json:"event_type"`
	Version int    `json:"schema_version"`
	Lead    string `json:"lead_id"`
	Payload struct {
		Policy      string `json:"policy_id"`
		Annual      string `json:"annual_premium"`
		Term        int    `json:"term_months"`
		Effective   string `json:"effective_date"`
		Sale        string `json:"sale_type"`
		Agent       string `json:"agent_of_record"`
		CancelledOn string `json:"cancelled_on"`
		Installment *struct {
			Number  int    `json:"number"`
			Of      int    `json:"of"`
			Premium string `json:"premium"`
		} `json:"installment"`
	} `json:"payload"`
}

// TestGenerateInstallments (issue #18, installments): with the dev
// reference data some v2 policies are paid monthly: installments 1, 2, …
// of 12 of the annual premium, each a month from the policy's effective
// date, naming the agent of record, and some cancelled in the month of
// their last installment (none issued after it). The oracle books each.
func TestGenerateInstallments(t *testing.T) {
	t.Parallel()
	opts := DefaultOptions()
	opts.Events = 3_000
	opts.Reference = devReference(t)
	ds, err := Generate(opts, devRules(t))
	if err != nil {
		t.Fatal(err)
	}
	type policy struct {
		first, last time.Time
		count       int
		cancelled   string
	}
	policies := map[string]*policy{}
	installments := 0
	for _, r := range ds.Records {
		var e installmentRecord
		if r.Kind != "valid" || json.Unmarshal(r.Value, &e) != nil {
			continue
		}
		key := e.Lead + "|" + e.Payload.Policy
		p := policies[key]
		switch {
		case e.Type == "policy.cancelled" && p != nil:
			p.cancelled = e.Payload.CancelledOn
			continue
		case e.Payload.Sale != "installment":
			continue
		}
		installments++
		i := e.Payload.Installment
		eff, err := time.Parse(time.DateOnly, e.Payload.Effective)
		if e.Version != 2 || i == nil || err != nil || e.Payload.Term != 1 || e.Payload.Agent == "" {
			t.Fatalf("installment record %s", r.Value)
		}
		if p == nil {
			p = &policy{first: eff}
			policies[key] = p
		}
		var annual, premium float64
		fmt.Sscan(e.Payload.Annual, &annual)
		fmt.Sscan(i.Premium, &premium)
		if p.cancelled != "" || i.Number != p.count+1 || i.Of != 12 || !eff.Equal(p.first.AddDate(0, p.count, 0)) ||
			int64(annual*100+0.5)/12 != int64(premium*100+0.5) {
			t.Errorf("installment %d of %d (%s, %s of %s) after %d, cancelled %q", i.Number, i.Of, e.Payload.Effective, i.Premium, e.Payload.Annual, p.count, p.cancelled)
		}
		p.count, p.last = i.Number, eff
	}
	cancelled := 0
	for key, p := range policies {
		if p.cancelled == "" {
			continue
		}
		cancelled++
		on, _ := time.Parse(time.DateOnly, p.cancelled)
		if on.Before(p.last) || !on.Before(p.last.AddDate(0, 1, 0)) {
			t.Errorf("%s cancelled on %s, outside its last installment's month from %s", key, p.cancelled, p.last.Format(time.DateOnly))
		}
	}
	w := ds.Want
	if installments == 0 || installments != w.Installments || cancelled == 0 || cancelled != w.InstallmentsCancelled {
		t.Errorf("%d installments of %d policies sent, %d cancelled; the oracle books %d and %d cancelled",
			installments, len(policies), cancelled, w.Installments, w.InstallmentsCancelled)
	}
	opts.Reference = nil
	plain, err := Generate(opts, devRules(t))
	if err != nil {
		t.Fatal(err)
	}
	if plain.Want.Installments+plain.Want.InstallmentsCancelled != 0 {
		t.Errorf("without a Reference: %d installments, %d cancelled", plain.Want.Installments, plain.Want.InstallmentsCancelled)
	}
}

// TestOracleInstallmentRule: the dev rules price an installment at 8 % of
// its own premium, before any product line's rule.
func TestOracleInstallmentRule(t *testing.T) {
	t.Parallel()
	r := devRules(t)
	for _, line := range []string{"auto", "home", "life"} {
		if got := r.commission(line, "installment", 10_417); got != 833 {
			t.Errorf("%s installment of 104.17: %d, want 833", line, got)
		}
	}
}
