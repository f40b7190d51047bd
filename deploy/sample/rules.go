package sample

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"regexp"
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
	Payees     map[string]any `json:"payees"`
	PayeeRules []any          `json:"payee_rules"`
	Overrides  []string       `json:"overrides"`
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
