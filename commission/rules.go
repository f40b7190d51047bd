package commission

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/big"
	"os"
	"slices"
	"sort"
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
// schemas/jsonschema/commission-rules.v2.json; a v1 file loads only where
// v2 reads it the same, see ParseRules), compiled once.
//
// Rules price the policy: the first rule whose condition holds on the
// policy gives its commission, computed once on the whole premium (bands,
// minimum and cap per policy). That commission is split among the payees by
// weight exactly (Split); then the first payee rule matching a payee may
// adjust its share (PayeeRule).
type RuleSet struct {
	SchemaVersion  int              `json:"schema_version"`
	Version        string           `json:"version"`
	Payees         map[string]Payee `json:"payees"`
	Rules          []Rule           `json:"rules"`
	PayeeRules     []PayeeRule      `json:"payee_rules"`
	Overrides      []string         `json:"overrides"`       // percent of a line paid to upline level 1, 2, …
	ChargebackDays map[string]int   `json:"chargeback_days"` // by product line, "default" for the rest
	// HoldDays is the holding period (free look) by product line, "default"
	// for the rest: an accrual is held until its policy's effective date
	// plus these days (HoldUntil), so a policy returned in its free look
	// is never paid.
	HoldDays map[string]int `json:"hold_days,omitempty"`
	// Holds are named holds: the first whose condition holds on a payee's
	// positive accrual holds it, and the overrides on it, for its reason
	// until an admin decides (see HoldRule).
	Holds []HoldRule `json:"holds,omitempty"`
	// ReferralFees are by jurisdiction what a payee unlicensed there is
	// paid instead of commission (see ReferralFee, licence.go).
	ReferralFees map[string]ReferralFee `json:"referral_fees,omitempty"`
	Hash         string                 `json:"-"` // SHA-256 of the file, to notice changes
	overrides    []int64
}

// Payee is reference data about a payee, keyed "type:id" in the file.
type Payee struct {
	Tier   string `json:"tier,omitempty"`
	Region string `json:"region,omitempty"`
	Upline string `json:"upline,omitempty"` // "type:id" of who earns overrides on this payee
}

// Rule prices a policy when When holds. When is an expr-lang expression
// over the variables of PolicyEnv: a policy's commission cannot depend on
// who shares it.
type Rule struct {
	ID     string `json:"id"`
	When   string `json:"when"`
	Amount Amount `json:"amount"`
	prog   *vm.Program
}

// PayeeRule adjusts one payee's share of the policy commission when When
// (over Env) holds: exactly one of Uplift and Reward.
type PayeeRule struct {
	ID     string  `json:"id"`
	When   string  `json:"when"`
	Uplift *Uplift `json:"uplift,omitempty"`
	// Reward replaces the payee's share with a flat amount paid pro rata to
	// its weight (in full only at 10 000 bp), so a sliver of credit earns a
	// sliver of the reward. The share it replaces is paid to nobody.
	Reward Money `json:"reward,omitempty"`
	prog   *vm.Program
	reward minorAmounts
}

// HoldRule holds an accrual for a named reason (e.g. "fraud:banned_referrer",
// "manual") when When (over Env) holds for its payee, independent of the
// holding period: the accrual stays held until a decide approves (releases)
// or declines it. A banned-referrer list is a rule like
// `payee in ["agent:X-9"]`.
type HoldRule struct {
	ID     string `json:"id"`
	When   string `json:"when"`
	Reason string `json:"reason"`
	prog   *vm.Program
}

// Uplift adds Percent of the payee's share on top of it; Cap bounds what
// is added, per payee and policy.
type Uplift struct {
	Percent string `json:"percent"`
	Cap     Money  `json:"cap,omitempty"`
	rate    int64
	cap     minorAmounts
}

// Money is an amount literal per currency ({"USD": "50.00", "JPY":
// "5000"}), each checked against its currency's minor digits at load. A
// policy in a currency the literal lacks is never paid by conversion.
type Money map[string]string

// minorAmounts is a Money parsed to minor units.
type minorAmounts map[string]int64

// Amount says what a policy earns. Exactly one of Percent (of the whole
// premium), Flat, Bands; Min and Cap bound the policy's commission.
type Amount struct {
	Percent string `json:"percent,omitempty"`
	Flat    Money  `json:"flat,omitempty"`
	Bands   []Band `json:"bands,omitempty"`
	Min     Money  `json:"min,omitempty"`
	Cap     Money  `json:"cap,omitempty"`
	rate    int64
	bands   []band
	flat    minorAmounts
	min     minorAmounts
	cap     minorAmounts
}

// Band is a marginal tier: Percent applies to the part of the premium up
// to UpTo (per currency; none for the last, open band).
type Band struct {
	UpTo    Money  `json:"up_to,omitempty"`
	Percent string `json:"percent"`
}

type band struct {
	upTo minorAmounts // nil for the open band
	rate int64
}

// PolicyEnv is what a rule's condition can read: the policy alone.
type PolicyEnv struct {
	ProductLine  string `expr:"product_line"`
	SaleType     string `expr:"sale_type"`
	Currency     string `expr:"currency"`
	PremiumMinor int64  `expr:"premium_minor"`
	TermMonths   int    `expr:"term_months"`
	PartnerID    string `expr:"partner_id"`
	FirstYear    bool   `expr:"first_year"`
	// InstallmentNumber and InstallmentCount say which installment an
	// installment sale pays (e.g. 3 of 12), so that rules can pay as-earned
	// commission by number; both 0 for other sales.
	InstallmentNumber int `expr:"installment_number"`
	InstallmentCount  int `expr:"installment_count"`
}

// Env is what a payee rule's condition can read: the policy and the payee.
type Env struct {
	ProductLine  string `expr:"product_line"`
	SaleType     string `expr:"sale_type"`
	Currency     string `expr:"currency"`
	PremiumMinor int64  `expr:"premium_minor"` // the whole policy's
	TermMonths   int    `expr:"term_months"`
	PartnerID    string `expr:"partner_id"`
	PayeeID      string `expr:"payee_id"`
	PayeeType    string `expr:"payee_type"`
	Payee        string `expr:"payee"` // "type:id", for lists of payees
	Tier         string `expr:"tier"`
	Region       string `expr:"region"`
	WeightBP     int    `expr:"weight_bp"`
	FirstYear    bool   `expr:"first_year"`
	// SelfReferral says the payee is the insured: its id is the policy's
	// policyholder_ref (see selfReferral), so a hold can name the fraud.
	SelfReferral      bool `expr:"self_referral"`
	InstallmentNumber int  `expr:"installment_number"` // as in PolicyEnv
	InstallmentCount  int  `expr:"installment_count"`
}

func compileSchema(name string) *jsonschema.Schema {
	b, err := fs.ReadFile(schemas.JSONSchemas(), name)
	if err != nil {
		panic(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name, bytes.NewReader(b)); err != nil {
		panic(err)
	}
	return c.MustCompile(name)
}

var (
	ruleSchemaV1 = compileSchema("commission-rules.v1.json")
	ruleSchemaV2 = compileSchema("commission-rules.v2.json")
)

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

// ParseRules checks a rule file against its JSON Schema (v2 when it says
// "schema_version": 2, else v1), then compiles every condition and amount
// and checks the payee table, reporting every problem at once.
//
// v1 priced each payee's premium share and read money literals in the
// policy's currency. A v1 file is accepted only where v2 reads it the same:
// percent amounts on conditions over the policy; anything else must be
// converted to v2 (commission/README.md says how).
func ParseRules(b []byte) (*RuleSet, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	v2 := isV2(doc)
	schema := ruleSchemaV1
	if v2 {
		schema = ruleSchemaV2
	}
	if err := schema.Validate(doc); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if !v2 {
		if err := v1Convertible(doc); err != nil {
			return nil, err
		}
	}
	var rs RuleSet
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	sum := sha256.Sum256(b)
	rs.Hash = fmt.Sprintf("%x", sum[:8])
	errs := rs.compileRules(v2)
	errs = append(errs, rs.compilePayeeRules()...)
	errs = append(errs, rs.compileHolds()...)
	errs = append(errs, rs.compileReferralFees()...)
	for _, p := range rs.Overrides {
		rate, err := parsePercent(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("overrides: %w", err))
		}
		rs.overrides = append(rs.overrides, rate)
	}
	errs = append(errs, rs.checkUplines()...)
	return &rs, errors.Join(errs...)
}

// isV2 says whether a decoded rule file declares schema version 2.
func isV2(doc any) bool {
	m, _ := doc.(map[string]any)
	n, _ := m["schema_version"].(json.Number)
	return n == "2"
}

// v1Convertible refuses the v1 amounts whose meaning v2 changed: money
// literals (v1 read them in whatever currency the policy had) and bands
// (whose limits are money).
func v1Convertible(doc any) error {
	rules, _ := doc.(map[string]any)["rules"].([]any)
	var errs []error
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		amount, _ := rule["amount"].(map[string]any)
		for _, k := range []string{"flat", "bands", "min", "cap"} {
			if _, ok := amount[k]; ok {
				errs = append(errs, fmt.Errorf("rule %q: v1 %s reads money in the policy's currency and per payee share: convert the file to commission-rules.v2", rule["id"], k))
			}
		}
	}
	return errors.Join(errs...)
}

// compileRules compiles the policy rules' conditions (over PolicyEnv only)
// and amounts.
func (rs *RuleSet) compileRules(v2 bool) []error {
	var errs []error
	seen := map[string]bool{}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if seen[r.ID] {
			errs = append(errs, fmt.Errorf("rule %q: id repeated", r.ID))
		}
		seen[r.ID] = true
		prog, err := expr.Compile(r.When, expr.Env(PolicyEnv{}), expr.AsBool())
		if err != nil && !v2 {
			err = fmt.Errorf("%w (a v1 condition on the payee must become a v2 payee rule)", err)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %q: when: %w", r.ID, err))
		}
		r.prog = prog
		if err := r.Amount.compile(); err != nil {
			errs = append(errs, fmt.Errorf("rule %q: %w", r.ID, err))
		}
	}
	return errs
}

// compilePayeeRules compiles the payee rules' conditions and amounts.
func (rs *RuleSet) compilePayeeRules() []error {
	var errs []error
	seen := map[string]bool{}
	for i := range rs.PayeeRules {
		r := &rs.PayeeRules[i]
		if seen[r.ID] {
			errs = append(errs, fmt.Errorf("payee rule %q: id repeated", r.ID))
		}
		seen[r.ID] = true
		prog, err := expr.Compile(r.When, expr.Env(Env{}), expr.AsBool())
		if err != nil {
			errs = append(errs, fmt.Errorf("payee rule %q: when: %w", r.ID, err))
		}
		r.prog = prog
		if r.reward, err = parseMoney(r.Reward); err != nil {
			errs = append(errs, fmt.Errorf("payee rule %q: reward: %w", r.ID, err))
		}
		if u := r.Uplift; u != nil {
			if u.rate, err = parsePercent(u.Percent); err != nil {
				errs = append(errs, fmt.Errorf("payee rule %q: uplift: %w", r.ID, err))
			}
			if u.cap, err = parseMoney(u.Cap); err != nil {
				errs = append(errs, fmt.Errorf("payee rule %q: uplift cap: %w", r.ID, err))
			}
		}
	}
	return errs
}

// compileHolds compiles the hold rules' conditions (over Env).
func (rs *RuleSet) compileHolds() []error {
	var errs []error
	seen := map[string]bool{}
	for i := range rs.Holds {
		h := &rs.Holds[i]
		if seen[h.ID] {
			errs = append(errs, fmt.Errorf("hold %q: id repeated", h.ID))
		}
		seen[h.ID] = true
		prog, err := expr.Compile(h.When, expr.Env(Env{}), expr.AsBool())
		if err != nil {
			errs = append(errs, fmt.Errorf("hold %q: when: %w", h.ID, err))
		}
		h.prog = prog
	}
	return errs
}

// MatchHold is the first hold rule whose condition holds on env, or nil.
func (rs *RuleSet) MatchHold(env Env) (*HoldRule, error) {
	for i := range rs.Holds {
		h := &rs.Holds[i]
		ok, err := expr.Run(h.prog, env)
		if err != nil {
			return nil, fmt.Errorf("hold %q: %w", h.ID, err)
		}
		if ok.(bool) {
			return h, nil
		}
	}
	return nil, nil
}

// checkUplines refuses an upline that is not a listed payee (its own
// upline would be unknowable) and a chain that comes back on itself (an
// override would pay a payee on its own line).
func (rs *RuleSet) checkUplines() []error {
	var errs []error
	keys := make([]string, 0, len(rs.Payees))
	for k := range rs.Payees {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	reported := map[string]bool{}
	for _, k := range keys {
		if up := rs.Payees[k].Upline; up != "" {
			if _, ok := rs.Payees[up]; !ok {
				errs = append(errs, fmt.Errorf("payee %q: upline %q is not a listed payee", k, up))
			}
		}
		if cycle := rs.cycleFrom(k); cycle != nil && !reported[cycle[0]] {
			reported[cycle[0]] = true
			errs = append(errs, fmt.Errorf("payee %q: upline cycle %s", k, strings.Join(cycle, " → ")))
		}
	}
	return errs
}

// cycleFrom follows the upline chain from key and returns the cycle it runs
// into, starting and ending at its smallest key (so each cycle is named one
// way), or nil.
func (rs *RuleSet) cycleFrom(key string) []string {
	pos := map[string]int{}
	var path []string
	for k := key; k != ""; k = rs.Payees[k].Upline {
		if i, ok := pos[k]; ok {
			loop := path[i:]
			least := slices.Index(loop, slices.Min(loop))
			out := append(slices.Clone(loop[least:]), loop[:least]...)
			return append(out, out[0])
		}
		pos[k] = len(path)
		path = append(path, k)
	}
	return nil
}

// compile parses the amount's percent, bands and money literals.
func (a *Amount) compile() error {
	var errs []error
	var err error
	if a.Percent != "" {
		if a.rate, err = parsePercent(a.Percent); err != nil {
			errs = append(errs, err)
		}
	}
	for name, m := range map[string]struct {
		in  Money
		out *minorAmounts
	}{"flat": {a.Flat, &a.flat}, "min": {a.Min, &a.min}, "cap": {a.Cap, &a.cap}} {
		if *m.out, err = parseMoney(m.in); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if err := a.compileBands(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// compileBands parses the bands: only the last is open, every other one
// has a limit in the same currencies, each above the one before.
func (a *Amount) compileBands() error {
	var errs []error
	for i, b := range a.Bands {
		rate, err := parsePercent(b.Percent)
		if err != nil {
			errs = append(errs, fmt.Errorf("band %d: %w", i, err))
		}
		if (len(b.UpTo) == 0) != (i == len(a.Bands)-1) {
			errs = append(errs, fmt.Errorf("band %d: only the last band is open (no up_to)", i))
		}
		upTo, err := parseMoney(b.UpTo)
		if err != nil {
			errs = append(errs, fmt.Errorf("band %d: up_to: %w", i, err))
		}
		if i > 0 && upTo != nil {
			prev := a.bands[i-1].upTo
			if !sameCurrencies(prev, upTo) {
				errs = append(errs, fmt.Errorf("band %d: up_to currencies differ from band 0's", i))
			}
			for cur, v := range upTo {
				if p, ok := prev[cur]; ok && v <= p {
					errs = append(errs, fmt.Errorf("band %d: up_to %s %s is not above the band before", i, cur, b.UpTo[cur]))
				}
			}
		}
		a.bands = append(a.bands, band{upTo: upTo, rate: rate})
	}
	return errors.Join(errs...)
}

func sameCurrencies(a, b minorAmounts) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// parseMoney parses each currency's literal in that currency's minor
// units; nil for none.
func parseMoney(m Money) (minorAmounts, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(minorAmounts, len(m))
	var errs []error
	for _, cur := range slices.Sorted(maps.Keys(m)) {
		v, err := money.ParseMinor(m[cur], cur)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", cur, m[cur], err))
		}
		out[cur] = v
	}
	return out, errors.Join(errs...)
}

// in returns m's amount in currency; what names the literal for the error.
func (m minorAmounts) in(currency, what string) (int64, error) {
	v, ok := m[currency]
	if !ok {
		return 0, fmt.Errorf("%w: %s has no %s amount", errNoCurrency, what, currency)
	}
	return v, nil
}

// errNoCurrency marks an amount the rules do not state in the policy's
// currency: the policy is not priced (no_matching_rule), never converted.
var errNoCurrency = errors.New("no amount in the policy's currency")

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

// Match returns the first rule whose condition holds on the policy.
func (rs *RuleSet) Match(env PolicyEnv) (*Rule, error) {
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

// MatchPayee returns the first payee rule whose condition holds, or nil.
func (rs *RuleSet) MatchPayee(env Env) (*PayeeRule, error) {
	for i := range rs.PayeeRules {
		r := &rs.PayeeRules[i]
		ok, err := expr.Run(r.prog, env)
		if err != nil {
			return nil, fmt.Errorf("payee rule %q: %w", r.ID, err)
		}
		if ok.(bool) {
			return r, nil
		}
	}
	return nil, nil
}

// Pay computes a policy's commission on premium minor units of currency.
func (a *Amount) Pay(premium int64, currency string) (int64, error) {
	d, err := a.Explain(premium, currency)
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

// Explain computes a policy's commission on premium minor units of
// currency and says which rate, bands, minimum and cap made it. An error
// wrapping errNoCurrency means the rule states no amount in currency.
func (a *Amount) Explain(premium int64, currency string) (Derivation, error) {
	var d Derivation
	var err error
	switch {
	case a.flat != nil:
		d.Amount, err = a.flat.in(currency, "flat")
		d.Rate = "flat"
	case a.bands != nil:
		d.Amount, d.Band, err = a.payBands(premium, currency)
		d.Rate = "bands"
	default:
		d.Amount, d.Rate = PercentOf(premium, a.rate), a.Percent
	}
	if err != nil {
		return d, err
	}
	return a.bound(d, currency)
}

// payBands applies the marginal bands to premium and lists the bands used.
func (a *Amount) payBands(premium int64, currency string) (int64, string, error) {
	var v int64
	var used []string
	left, lower := premium, int64(0)
	for i, b := range a.bands {
		part := left
		if b.upTo != nil {
			upper, err := b.upTo.in(currency, fmt.Sprintf("band %d up_to", i))
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

// bound applies the policy's minimum and cap to d.
func (a *Amount) bound(d Derivation, currency string) (Derivation, error) {
	if a.min != nil {
		m, err := a.min.in(currency, "min")
		if err != nil {
			return d, err
		}
		if m > d.Amount {
			d.Amount, d.MinApplied = m, true
		}
	}
	if a.cap != nil {
		c, err := a.cap.in(currency, "cap")
		if err != nil {
			return d, err
		}
		if c < d.Amount {
			d.Amount, d.CapApplied = c, true
		}
	}
	return d, nil
}

// Adjust applies the payee rule to a payee's share of the policy
// commission: an uplift adds its percent of the share (at most its cap);
// a reward replaces the share with the reward × weight / 10 000, rounded
// half away from zero.
func (r *PayeeRule) Adjust(share int64, weightBP int, currency string) (int64, error) {
	if r.reward != nil {
		v, err := r.reward.in(currency, "reward")
		return proRata(v, int64(weightBP), 10_000), err
	}
	up := PercentOf(share, r.Uplift.rate)
	if r.Uplift.cap != nil {
		c, err := r.Uplift.cap.in(currency, "uplift cap")
		if err != nil {
			return 0, err
		}
		up = min(up, c)
	}
	return share + up, nil
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

// HoldWindow is how many days after the effective date an accrual of a
// product line is held (0: none).
func (rs *RuleSet) HoldWindow(line string) int {
	if d, ok := rs.HoldDays[line]; ok {
		return d
	}
	return rs.HoldDays["default"]
}
