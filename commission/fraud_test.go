package commission

import (
	"bytes"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/schemas"
)

// selfRules are testdata/rules.json with a self-referral hold before a
// manual one, so the first matching hold is seen to win.
func selfRules(t *testing.T, when string) *RuleSet {
	t.Helper()
	b, err := os.ReadFile("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`"hold_days"`), []byte(`"holds": [
    {"id": "self", "reason": "fraud:self_referral", "when": "`+when+`"},
    {"id": "all", "reason": "manual", "when": "payee == \"agent:A-9\""}],
  "hold_days"`), 1)
	rs, err := ParseRules(b)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// describeHolds renders hold decisions as "payee:reason@rule", sorted.
func describeHolds(es []schemas.JournalEntry) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, e.PayeeType+":"+e.PayeeID+":"+e.Reason+"@"+e.RuleID)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// TestSelfReferralHold (issue #18, fraud rules): a hold rule over
// self_referral holds the accrual of a payee whose id is the policy's
// policyholder_ref — the insured paid for referring itself — with the
// overrides derived from it, naming the rule and its reason; a policy
// naming no policyholder, another payee, or a payee without credit is not
// held. Hand-derived from testdata/rules.json: agent:A-1 has upline chain
// agency:AG-1 → mga:M-1, customers earn a reward.
func TestSelfReferralHold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, when, holder string
		tps                []tp
		want               string
	}{
		{"agent insures itself: held with its overrides", "self_referral", "A-1", lifePolicy,
			"agency:AG-1:fraud:self_referral@self agent:A-1:fraud:self_referral@self mga:M-1:fraud:self_referral@self"},
		{"customer refers itself, the agent is paid", "self_referral", "C-7", []tp{{"A-1", "agent", 5000}, {"C-7", "customer", 5000}},
			"customer:C-7:fraud:self_referral@self"},
		{"no policyholder named: nothing known, nothing held", "self_referral", "", []tp{{"A-1", "agent", 5000}, {"C-7", "customer", 5000}}, ""},
		{"someone else's policy", "self_referral", "C-8", []tp{{"A-1", "agent", 5000}, {"C-7", "customer", 5000}}, ""},
		{"no credit, nothing to hold", "self_referral", "C-7", []tp{{"A-1", "agent", 10000}, {"C-7", "customer", 0}}, ""},
		{"narrowed to customers by the rule", "self_referral && payee_type == \\\"customer\\\"", "A-1", lifePolicy, ""},
		{"a later hold still holds what the first does not", "self_referral", "C-7", []tp{{"A-9", "agent", 5000}, {"C-7", "customer", 5000}},
			"agent:A-9:manual@all customer:C-7:fraud:self_referral@self"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs := selfRules(t, tt.when)
			env, att := attEnvelope("life", "new_business", "10000.00", "USD", 1, tt.tps...)
			att.Policy.PolicyholderRef = tt.holder
			accrued, err := accrualsFor(rs, Reference{}, env, att)
			if err != nil {
				t.Fatal(err)
			}
			held, err := namedHolds(rs, env, att.Policy, accrued)
			if err != nil {
				t.Fatal(err)
			}
			if got := describeHolds(held); got != tt.want {
				t.Errorf("holds\n got %q\nwant %q", got, tt.want)
			}
			for _, h := range held {
				if h.Actor != "rule:"+h.RuleID+"@"+rs.Version || h.Decision != DecisionHold || h.AmountMinor != 0 {
					t.Errorf("hold entry %+v", h)
				}
			}
		})
	}
}

// TestSelfReferralProperty: over every payee and policyholder drawn from
// one small id space, exactly the positive direct accruals whose payee id
// is the policyholder are held for self-referral, and the hold never
// changes an amount.
func TestSelfReferralProperty(t *testing.T) {
	t.Parallel()
	rs := selfRules(t, "self_referral")
	ids := []string{"", "A-1", "A-2", "C-7"}
	for _, holder := range ids {
		for _, w := range []int{0, 1, 5000, 9999, 10000} {
			env, att := attEnvelope("auto", "new_business", "1234.56", "USD", 1, tp{"A-1", "agent", w}, tp{"A-2", "agent", 10000 - w})
			att.Policy.PolicyholderRef = holder
			accrued, err := accrualsFor(rs, Reference{}, env, att)
			if err != nil {
				t.Fatal(err)
			}
			before := describeChecked(accrued)
			held, err := namedHolds(rs, env, att.Policy, accrued)
			if err != nil {
				t.Fatal(err)
			}
			if describeChecked(accrued) != before {
				t.Fatalf("holding changed the accruals")
			}
			want := map[string]bool{}
			for _, a := range accrued {
				if a.OverrideLevel == 0 && a.AmountMinor > 0 && holder != "" && a.PayeeID == holder {
					want[a.EntryID] = true
				}
			}
			seen := map[string]bool{}
			for _, h := range held {
				src := h.Corrects
				for _, a := range accrued {
					if a.EntryID == h.Corrects && a.OverrideLevel > 0 {
						src = a.SourceEntryID
					}
				}
				if !want[src] || h.Reason != "fraud:self_referral" {
					t.Errorf("holder %q weight %d: held %s:%s (%s)", holder, w, h.PayeeType, h.PayeeID, h.Reason)
				}
				seen[src] = true
			}
			for id := range want {
				if !seen[id] {
					t.Errorf("holder %q weight %d: %s not held", holder, w, id)
				}
			}
		}
	}
}
