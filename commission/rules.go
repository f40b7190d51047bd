package commission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
)

// RateScale is the denominator of a Rule's rate: rates are exact integers of
// millionths, so "12.5" percent is 125 000 / 1 000 000 of the premium.
const RateScale = 1_000_000

// Rule matches policies and gives their commission rate. Empty match fields
// match anything.
type Rule struct {
	ID          string `json:"id"`
	ProductLine string `json:"product_line,omitempty"`
	SaleType    string `json:"sale_type,omitempty"`
	Percent     string `json:"percent"` // decimal string, at most 4 fractional digits
	rate        int64
}

// RuleSet is a versioned, ordered list of rules; the first match wins.
type RuleSet struct {
	Version string `json:"version"`
	Rules   []Rule `json:"rules"`
}

// LoadRules reads and checks a rule-set file.
func LoadRules(path string) (*RuleSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	rs, err := ParseRules(b)
	if err != nil {
		return nil, fmt.Errorf("rules %s: %w", path, err)
	}
	return rs, nil
}

// ParseRules decodes a rule set, refusing unknown fields, and reports every
// problem at once.
func ParseRules(b []byte) (*RuleSet, error) {
	var rs RuleSet
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rs); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	var errs []error
	if rs.Version == "" {
		errs = append(errs, errors.New("version is required"))
	}
	if len(rs.Rules) == 0 {
		errs = append(errs, errors.New("at least one rule is required"))
	}
	seen := map[string]bool{}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if r.ID == "" || seen[r.ID] {
			errs = append(errs, fmt.Errorf("rule %d: id %q missing or repeated", i, r.ID))
		}
		seen[r.ID] = true
		rate, err := parsePercent(r.Percent)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %q: %w", r.ID, err))
		}
		r.rate = rate
	}
	return &rs, errors.Join(errs...)
}

// parsePercent turns "12.5" into 125000 millionths; 0..100 % with at most
// four fractional digits, so no rate is ever rounded.
func parsePercent(s string) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 4 || strings.Trim(whole+frac, "0123456789") != "" || len(whole) > 3 {
		return 0, fmt.Errorf("percent %q: want a decimal 0..100 with at most 4 fractional digits", s)
	}
	var v int64
	for _, c := range whole + frac + strings.Repeat("0", 4-len(frac)) {
		v = v*10 + int64(c-'0')
	}
	if v > 100*10_000 {
		return 0, fmt.Errorf("percent %q: above 100", s)
	}
	return v, nil
}

// Match returns the first rule matching the policy.
func (rs *RuleSet) Match(productLine, saleType string) (*Rule, bool) {
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if (r.ProductLine == "" || r.ProductLine == productLine) && (r.SaleType == "" || r.SaleType == saleType) {
			return r, true
		}
	}
	return nil, false
}

// Commission is premium × rate rounded half away from zero. big.Int keeps
// the product exact for any int64 premium.
func (r *Rule) Commission(premiumMinor int64) int64 {
	n := new(big.Int).Mul(big.NewInt(premiumMinor), big.NewInt(r.rate))
	q, m := new(big.Int).QuoRem(n, big.NewInt(RateScale), new(big.Int))
	if new(big.Int).Abs(m).Cmp(big.NewInt(RateScale/2)) >= 0 {
		q.Add(q, big.NewInt(int64(n.Sign())))
	}
	return q.Int64()
}
