package sample

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"regexp"
	"strings"
	"time"
)

// Rules is the oracle's own reading of a commission rule file. It
// understands the subset the dev rules use — conditions that are `true` or
// conjunctions of `product_line == "x"` and `sale_type == "y"`, amounts that
// are a percent — and is deliberately written apart from package commission
// so the two can disagree, and a test notice.
//
// It follows the commission-rules.v2 semantics: a policy's commission is
// computed once, on its whole premium, then split by attribution weight.
// The generator pays the last touch all the credit, so the split is the
// identity; anything that would make the price depend on more than the
// policy (minimum, cap, bands, flat amounts, payee rules, overrides) is
// refused rather than ignored.
type Rules struct {
	rules []oracleRule
	// fees are the referral fees by jurisdiction (rules v2
	// `referral_fees`): what a payee unlicensed there is paid instead.
	fees map[string]referralFee
	// banned are the payees ("type:id") a `payee in [...]` hold holds,
	// mapped to the hold's reason.
	banned map[string]string
	// holds are the rule file's holds in order: a list of payees, or
	// `self_referral`; other kinds of hold are refused.
	holds []oracleHold
}

// oracleHold is one hold the oracle follows: it holds a positive accrual
// of one of payees, or (self) of a payee whose id is the policy's
// policyholder_ref.
type oracleHold struct {
	payees map[string]bool
	self   bool
	reason string
}

// referralFee is one jurisdiction's fee: flat (per currency, in minor
// units), else capped at cap (per currency), else nothing.
type referralFee struct {
	flat, cap map[string]int64
}

type oracleRule struct {
	line, sale string
	percent    *big.Rat
}

var (
	lineRe = regexp.MustCompile(`product_line == "([a-z_]+)"`)
	saleRe = regexp.MustCompile(`sale_type == "([a-z_]+)"`)
	onlyRe = regexp.MustCompile(`^(true|(product_line == "[a-z_]+"|sale_type == "[a-z_]+")( && (product_line == "[a-z_]+"|sale_type == "[a-z_]+"))*)$`)
)

// ruleFile is what the oracle reads of a rule file (v1 or v2).
type ruleFile struct {
	SchemaVersion int `json:"schema_version"`
	Rules         []struct {
		ID     string                     `json:"id"`
		When   string                     `json:"when"`
		Amount map[string]json.RawMessage `json:"amount"`
	} `json:"rules"`
	Payees       map[string]any `json:"payees"`
	ReferralFees map[string]struct {
		Flat map[string]string `json:"flat"`
		Cap  map[string]string `json:"cap"`
	} `json:"referral_fees"`
	Holds []struct {
		ID     string `json:"id"`
		When   string `json:"when"`
		Reason string `json:"reason"`
	} `json:"holds"`
	PayeeRules []any    `json:"payee_rules"`
	Overrides  []string `json:"overrides"`
}

// LoadRules reads a rule file, refusing what the oracle cannot follow.
func LoadRules(path string) (*Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	var doc ruleFile
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decode rules %s: %w", path, err)
	}
	if err := doc.beyond(); err != nil {
		return nil, fmt.Errorf("rules %s: %w", path, err)
	}
	r := &Rules{}
	if err := r.readFeesAndHolds(doc); err != nil {
		return nil, fmt.Errorf("rules %s: %w", path, err)
	}
	for _, rule := range doc.Rules {
		var percent string
		pctErr := json.Unmarshal(rule.Amount["percent"], &percent)
		pct, ok := new(big.Rat).SetString(percent)
		if !onlyRe.MatchString(rule.When) || pctErr != nil || !ok {
			return nil, fmt.Errorf("rules %s: rule %s is beyond the oracle (when %q, percent %q)", path, rule.ID, rule.When, percent)
		}
		or := oracleRule{percent: pct}
		if m := lineRe.FindStringSubmatch(rule.When); m != nil {
			or.line = m[1]
		}
		if m := saleRe.FindStringSubmatch(rule.When); m != nil {
			or.sale = m[1]
		}
		r.rules = append(r.rules, or)
	}
	return r, nil
}

// beyond names the first part of the file the oracle does not model.
func (doc ruleFile) beyond() error {
	switch {
	case doc.SchemaVersion != 0 && doc.SchemaVersion != 2:
		return fmt.Errorf("schema_version %d is beyond the oracle", doc.SchemaVersion)
	case len(doc.Payees) > 0 || len(doc.Overrides) > 0:
		return fmt.Errorf("the oracle does not model payees or overrides")
	case len(doc.PayeeRules) > 0:
		return fmt.Errorf("the oracle does not model payee rules")
	}
	for _, rule := range doc.Rules {
		for k := range rule.Amount {
			if k != "percent" {
				return fmt.Errorf("rule %s: the oracle does not model %s", rule.ID, k)
			}
		}
	}
	return nil
}

// commission is the policy's commission, premium × percent, rounded half
// away from zero: once per policy, before any split.
func (r *Rules) commission(product, sale string, premiumMinor int64) int64 {
	for _, rule := range r.rules {
		if (rule.line == "" || rule.line == product) && (rule.sale == "" || rule.sale == sale) {
			v := new(big.Rat).Mul(rule.percent, new(big.Rat).SetInt64(premiumMinor))
			v.Quo(v, big.NewRat(100, 1))
			v.Add(v, big.NewRat(1, 2)) // non-negative: floor(v + 1/2)
			return new(big.Int).Quo(v.Num(), v.Denom()).Int64()
		}
	}
	panic("sample: no rule matches " + product + "/" + sale)
}

// proRata is amount × unearned days / term days, rounded half away from
// zero, for a policy effective on the date of effective with a term of
// months, cancelled on the date of cancelled.
func (r *Rules) proRata(amount int64, effective, cancelled time.Time, months int) int64 {
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	eff, end := day(effective), day(effective).AddDate(0, months, 0)
	termDays := int64(end.Sub(eff) / (24 * time.Hour))
	unearned := int64(end.Sub(day(cancelled)) / (24 * time.Hour))
	v := new(big.Rat).SetFrac(big.NewInt(amount*unearned), big.NewInt(termDays))
	v.Add(v, big.NewRat(1, 2))
	return new(big.Int).Quo(v.Num(), v.Denom()).Int64()
}

// holdRe is one kind of hold the oracle follows, a banned-payee list;
// the other is exactly `self_referral`.
var (
	holdRe  = regexp.MustCompile(`^payee in \[((?:"[a-z]+:[A-Za-z0-9._-]+"(?:, ?)?)+)\]$`)
	quoteRe = regexp.MustCompile(`"([^"]+)"`)
)

// readFeesAndHolds reads the referral fees and the banned-payee holds,
// refusing a fee with both a flat amount and a cap and any other hold.
func (r *Rules) readFeesAndHolds(doc ruleFile) error {
	r.fees, r.banned = map[string]referralFee{}, map[string]string{}
	for j, f := range doc.ReferralFees {
		if len(f.Flat) > 0 && len(f.Cap) > 0 {
			return fmt.Errorf("referral fee %s: flat and cap together are beyond the oracle", j)
		}
		flat, err := moneyMap(f.Flat)
		if err != nil {
			return fmt.Errorf("referral fee %s: %w", j, err)
		}
		capped, err := moneyMap(f.Cap)
		if err != nil {
			return fmt.Errorf("referral fee %s: %w", j, err)
		}
		fee := referralFee{flat: flat, cap: capped}
		r.fees[j] = fee
	}
	for _, h := range doc.Holds {
		if h.When == "self_referral" {
			r.holds = append(r.holds, oracleHold{self: true, reason: h.Reason})
			continue
		}
		m := holdRe.FindStringSubmatch(h.When)
		if m == nil {
			return fmt.Errorf("hold %s (when %q) is beyond the oracle: only `payee in [...]` or `self_referral`", h.ID, h.When)
		}
		oh := oracleHold{payees: map[string]bool{}, reason: h.Reason}
		for _, q := range quoteRe.FindAllStringSubmatch(m[1], -1) {
			oh.payees[q[1]] = true
			if _, ok := r.banned[q[1]]; !ok { // the first hold that holds names it
				r.banned[q[1]] = h.Reason
			}
		}
		r.holds = append(r.holds, oh)
	}
	return nil
}

// firstHold is the first hold of the file that holds an accrual of amount
// to payee ("type:id") on a policy whose policyholder is holder ("" when
// not named), or nil: only a positive accrual is held.
func (r *Rules) firstHold(payee, holder string, amount int64) *oracleHold {
	if amount <= 0 {
		return nil
	}
	_, id, _ := strings.Cut(payee, ":")
	for i, h := range r.holds {
		if h.payees[payee] || h.self && holder != "" && id == holder {
			return &r.holds[i]
		}
	}
	return nil
}

// holdOf is the reason the first matching hold holds such an accrual for,
// "" when none does.
func (r *Rules) holdOf(payee, holder string, amount int64) string {
	if h := r.firstHold(payee, holder, amount); h != nil {
		return h.reason
	}
	return ""
}

// selfHold says whether the rules hold self-referrals at all.
func (r *Rules) selfHold() bool {
	for _, h := range r.holds {
		if h.self {
			return true
		}
	}
	return false
}

// moneyMap reads per-currency money literals in minor units.
func moneyMap(lits map[string]string) (map[string]int64, error) {
	out := map[string]int64{}
	for cur, lit := range lits {
		v, err := minorUnits(cur, lit)
		if err != nil {
			return nil, err
		}
		out[cur] = v
	}
	return out, nil
}

// minorDigits are the minor-unit digits of the currencies the generator
// sells; a literal in another currency is refused.
var minorDigits = map[string]int{"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0}

// minorUnits reads a money literal ("25.00", or "2500" for yen) in cur's
// minor units, refusing one with more digits than cur has.
func minorUnits(cur, lit string) (int64, error) {
	digits, ok := minorDigits[cur]
	v, ratOK := new(big.Rat).SetString(lit)
	if !ok || !ratOK || v.Sign() < 0 {
		return 0, fmt.Errorf("money %s %q is beyond the oracle", cur, lit)
	}
	for range digits {
		v.Mul(v, big.NewRat(10, 1))
	}
	if !v.IsInt() {
		return 0, fmt.Errorf("money %s %q has more than %d decimals", cur, lit, digits)
	}
	return v.Num().Int64(), nil
}

// directShare is what payee is paid of a policy's commission when it has
// all the credit: the commission when licensed and, on a policy naming its
// carrier, appointed by it (or the policy has no jurisdiction, or no
// registry is given), else the jurisdiction's referral fee — flat, the
// commission capped, or nothing.
func (r *Rules) directShare(ref *Reference, payee string, p policyTerms, commission int64) int64 {
	if v := ref.check(payee, p); v == "" || v == "licensed" {
		return commission
	}
	fee, ok := r.fees[p.jurisdiction]
	switch {
	case !ok:
		return 0
	case len(fee.flat) > 0:
		v, ok := fee.flat[p.currency]
		if !ok {
			panic("sample: referral fee of " + p.jurisdiction + " has no " + p.currency + " (the pipeline dead-letters it)")
		}
		return v
	case len(fee.cap) > 0:
		c, ok := fee.cap[p.currency]
		if !ok {
			panic("sample: referral fee cap of " + p.jurisdiction + " has no " + p.currency + " (the pipeline dead-letters it)")
		}
		return min(commission, c)
	}
	return 0
}
