package sample

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
)

// Rules is the oracle's own reading of a commission rule file: first rule
// whose non-empty product_line and sale_type match; percent of premium
// rounded half away from zero to the minor unit. It is deliberately written
// apart from package commission so the two can disagree, and a test notice.
type Rules struct {
	Version string `json:"version"`
	Rules   []struct {
		ID          string `json:"id"`
		ProductLine string `json:"product_line"`
		SaleType    string `json:"sale_type"`
		Percent     string `json:"percent"`
	} `json:"rules"`
}

// LoadRules reads a rule file.
func LoadRules(path string) (*Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	var r Rules
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode rules %s: %w", path, err)
	}
	return &r, nil
}

func (r *Rules) commission(product, sale string, premiumMinor int64) int64 {
	for _, rule := range r.Rules {
		if (rule.ProductLine == "" || rule.ProductLine == product) && (rule.SaleType == "" || rule.SaleType == sale) {
			pct, ok := new(big.Rat).SetString(rule.Percent)
			if !ok {
				panic("sample: bad percent in rules: " + rule.Percent)
			}
			v := new(big.Rat).Mul(pct, new(big.Rat).SetInt64(premiumMinor))
			v.Quo(v, big.NewRat(100, 1))
			// half away from zero for a non-negative value: floor(v + 1/2)
			v.Add(v, big.NewRat(1, 2))
			return new(big.Int).Quo(v.Num(), v.Denom()).Int64()
		}
	}
	panic("sample: no rule matches " + product + "/" + sale)
}
