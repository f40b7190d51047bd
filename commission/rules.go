package commission

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/money"
)

// RateScale is the denominator of rates: percents are exact integers of
// millionths, so "12.5" percent is 125 000 / 1 000 000.
const RateScale = 1_000_000

// RuleSet is a versioned commission rule file (schema:
// schemas/jsonschema/commission-rules.v1.json), compiled once.
type RuleSet struct {
	Version        string           `json:"version"`
	Payees         map[string]Payee `json:"payees"`
	Rules          []Rule           `json:"rules"`
	Overrides      []string         `json:"overrides"`       // percent of a line paid to upline level 1, 2, …
	ChargebackDays map[string]int   `json:"chargeback_days"` // by product line, "default" for the rest
	Hash           string           `json:"-"`               // SHA-256 of the file, to notice changes
	overrides      []int64
}

// Payee is reference data about a payee, keyed "type:id" in the file.
type Payee struct {
	Tier   string `json:"tier,omitempty"`
	Region string `json:"region,omitempty"`
	Upline string `json:"upline,omitempty"` // "type:id" of who earns overrides on this payee
}

// Rule pays Amount when When holds. When is an expr-lang expression over
// the variables of Env.
type Rule struct {
	ID     string `json:"id"`
	When   string `json:"when"`
	Amount Amount `json:"amount"`
	prog   *vm.Program
}

// Amount says how much a payee earns on its premium share. Exactly one of
// Percent, Flat, Bands; Min and Cap bound the result. Money is decimal
// strings in the policy's currency; Flat is per currency.
type Amount struct {
	Percent string            `json:"percent,omitempty"`
	Flat    map[string]string `json:"flat,omitempty"`
	Bands   []Band            `json:"bands,omitempty"`
	Min     string            `json:"min,omitempty"`
	Cap     string            `json:"cap,omitempty"`
	rate    int64
	bands   []band
}

// Band is a marginal tier: Percent applies to the part of the premium share
// up to UpTo (major units; empty for the last, open band).
type Band struct {
	UpTo    string `json:"up_to,omitempty"`
	Percent string `json:"percent"`
}

type band struct {
	upTo string
	rate int64
}

// Env is what a rule's condition can read.
type Env struct {
	ProductLine  string `expr:"product_line"`
	SaleType     string `expr:"sale_type"`
	Currency     string `expr:"currency"`
	PremiumMinor int64  `expr:"premium_minor"` // the whole policy's
	TermMonths   int    `expr:"term_months"`
	PartnerID    string `expr:"partner_id"`
	PayeeID      string `expr:"payee_id"`
	PayeeType    string `expr:"payee_type"`
	Tier         string `expr:"tier"`
	Region       string `expr:"region"`
	WeightBP     int    `expr:"weight_bp"`
	FirstYear    bool   `expr:"first_year"`
}

var ruleSchema = func() *jsonschema.Schema {
	b, err := fs.ReadFile(schemas.JSONSchemas(), "commission-rules.v1.json")
	if err != nil {
		panic(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("commission-rules.v1.json", bytes.NewReader(b)); err != nil {
		panic(err)
	}
	return c.MustCompile("commission-rules.v1.json")
}()

// LoadRules reads, checks and compiles a rule file.
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

// ParseRules checks a rule file against its JSON Schema, then compiles
// every condition and amount, reporting every problem at once.
func ParseRules(b []byte) (*RuleSet, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if err := ruleSchema.Validate(doc); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	var rs RuleSet
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	sum := sha256.Sum256(b)
	rs.Hash = fmt.Sprintf("%x", sum[:8])
	var errs []error
	seen := map[string]bool{}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if seen[r.ID] {
			errs = append(errs, fmt.Errorf("rule %q: id repeated", r.ID))
		}
		seen[r.ID] = true
		prog, err := expr.Compile(r.When, expr.Env(Env{}), expr.AsBool())
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %q: when: %w", r.ID, err))
		}
		r.prog = prog
		if err := r.Amount.compile(); err != nil {
			errs = append(errs, fmt.Errorf("rule %q: %w", r.ID, err))
		}
	}
	for _, p := range rs.Overrides {
		rate, err := parsePercent(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("overrides: %w", err))
		}
		rs.overrides = append(rs.overrides, rate)
	}
	for key, p := range rs.Payees {
		if p.Upline == key {
			errs = append(errs, fmt.Errorf("payee %q is its own upline", key))
		}
	}
	return &rs, errors.Join(errs...)
}

func (a *Amount) compile() error {
	var errs []error
	var err error
	if a.Percent != "" {
		if a.rate, err = parsePercent(a.Percent); err != nil {
			errs = append(errs, err)
		}
	}
	for i, b := range a.Bands {
		rate, err := parsePercent(b.Percent)
		if err != nil {
			errs = append(errs, fmt.Errorf("band %d: %w", i, err))
		}
		if (b.UpTo == "") != (i == len(a.Bands)-1) {
			errs = append(errs, fmt.Errorf("band %d: only the last band is open (no up_to)", i))
		}
		a.bands = append(a.bands, band{upTo: b.UpTo, rate: rate})
	}
	return errors.Join(errs...)
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

// Match returns the first rule whose condition holds.
func (rs *RuleSet) Match(env Env) (*Rule, error) {
	for i := range rs.Rules {
		r := &rs.Rules[i]
		ok, err := expr.Run(r.prog, env)
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", r.ID, err)
		}
		if ok.(bool) {
			return r, nil
		}
	}
	return nil, nil
}

// Pay computes a payee's commission on share minor units of currency.
func (a *Amount) Pay(share int64, currency string) (int64, error) {
	d, err := a.Explain(share, currency)
	return d.Amount, err
}

// Derivation is an amount with how it came about, for the journal's "why".
type Derivation struct {
	Amount     int64
	Rate       string // the percent as the rule states it, "flat", or "bands"
	Band       string // bands used, "percent@minor units in the band", comma-separated
	MinApplied bool
	CapApplied bool
}

// Explain computes a payee's commission on share minor units of currency
// and says which rate, bands, minimum and cap made it.
func (a *Amount) Explain(share int64, currency string) (Derivation, error) {
	var d Derivation
	switch {
	case a.Flat != nil:
		s, ok := a.Flat[currency]
		if !ok {
			return d, fmt.Errorf("flat amount has no %s entry", currency)
		}
		f, err := money.ParseMinor(s, currency)
		if err != nil {
			return d, err
		}
		d.Amount, d.Rate = f, "flat"
	case a.bands != nil:
		var err error
		if d.Amount, d.Band, err = a.payBands(share, currency); err != nil {
			return d, err
		}
		d.Rate = "bands"
	default:
		d.Amount, d.Rate = PercentOf(share, a.rate), a.Percent
	}
	return a.bound(d, currency)
}

// payBands applies the marginal bands to share and lists the bands used.
func (a *Amount) payBands(share int64, currency string) (int64, string, error) {
	var v int64
	var used []string
	left, lower := share, int64(0)
	for i, b := range a.bands {
		part := left
		if b.upTo != "" {
			upper, err := money.ParseMinor(b.upTo, currency)
			if err != nil {
				return 0, "", err
			}
			part = min(left, max(upper-lower, 0))
			lower = upper
		}
		if part > 0 {
			used = append(used, a.Bands[i].Percent+"@"+strconv.FormatInt(part, 10))
		}
		v += PercentOf(part, b.rate)
		left -= part
	}
	return v, strings.Join(used, ","), nil
}

// bound applies the minimum and the cap to d.
func (a *Amount) bound(d Derivation, currency string) (Derivation, error) {
	if a.Min != "" {
		m, err := money.ParseMinor(a.Min, currency)
		if err != nil {
			return d, err
		}
		if m > d.Amount {
			d.Amount, d.MinApplied = m, true
		}
	}
	if a.Cap != "" {
		c, err := money.ParseMinor(a.Cap, currency)
		if err != nil {
			return d, err
		}
		if c < d.Amount {
			d.Amount, d.CapApplied = c, true
		}
	}
	return d, nil
}

// PercentOf is v × rate/RateScale rounded half away from zero; big.Int
// keeps the product exact for any int64.
func PercentOf(v, rate int64) int64 {
	n := new(big.Int).Mul(big.NewInt(v), big.NewInt(rate))
	q, m := new(big.Int).QuoRem(n, big.NewInt(RateScale), new(big.Int))
	if new(big.Int).Abs(m).Cmp(big.NewInt(RateScale/2)) >= 0 {
		q.Add(q, big.NewInt(int64(n.Sign())))
	}
	return q.Int64()
}

// ChargebackWindow is how many days after the effective date a cancellation
// still claws commission back, for a product line.
func (rs *RuleSet) ChargebackWindow(line string) int {
	if d, ok := rs.ChargebackDays[line]; ok {
		return d
	}
	return rs.ChargebackDays["default"]
}
