package commission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"regexp"
	"slices"
	"sort"
	"time"

	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/money"
)

// HoldFXMissingRate is the named hold on an accrual whose payee is paid in
// another currency when the rates hold no rate for it: held, never guessed.
const HoldFXMissingRate = "fx:missing_rate"

// Rates is the FX rate source (--fx-rates; a file for dev, hot-reloaded
// like the rules): rates per currency pair with their source and as-of
// time. An accrual is converted with the latest rate of its pair as of the
// time its attribution was received, so a replay picks the same rate from
// the same file, and the entry keeps the snapshot (rate, source, as-of).
type Rates struct {
	SchemaVersion int    `json:"schema_version"`
	Version       string `json:"version"`
	Source        string `json:"source"` // of every rate that names none
	Rates         []Rate `json:"rates"`
	Hash          string `json:"-"`
	byPair        map[[2]string][]Rate
}

// Rate converts one unit of From into Rate units of To (a decimal string,
// never a float), as of AsOf (RFC 3339). No inverse is implied.
type Rate struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Rate   string `json:"rate"`
	AsOf   string `json:"as_of"`
	Source string `json:"source,omitempty"`
	asOf   time.Time
}

var rateRE = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,12})?$`)

// LoadRates reads and checks a rates file.
func LoadRates(path string) (*Rates, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read fx rates: %w", err)
	}
	r, err := ParseRates(b)
	if err != nil {
		return nil, fmt.Errorf("fx rates %s: %w", path, err)
	}
	return r, nil
}

// ParseRates decodes a rates file strictly and checks every rate (known
// currencies, a positive decimal rate, an RFC 3339 as-of, a source, one
// rate per pair and time), reporting every problem at once.
func ParseRates(b []byte) (*Rates, error) {
	var r Rates
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	r.Hash = contentHash(b)
	var errs []error
	if r.SchemaVersion != 1 {
		errs = append(errs, fmt.Errorf("schema_version %d: want 1", r.SchemaVersion))
	}
	if r.Version == "" {
		errs = append(errs, errors.New("version: required"))
	}
	r.byPair = map[[2]string][]Rate{}
	seen := map[string]bool{}
	for i := range r.Rates {
		x := &r.Rates[i]
		if x.Source == "" {
			x.Source = r.Source
		}
		if err := x.check(); err != nil {
			errs = append(errs, fmt.Errorf("rate %d: %w", i, err))
			continue
		}
		k := x.From + x.To + x.asOf.String()
		if seen[k] {
			errs = append(errs, fmt.Errorf("rate %d: %s→%s as of %s given twice", i, x.From, x.To, x.AsOf))
		}
		seen[k] = true
		pair := [2]string{x.From, x.To}
		r.byPair[pair] = append(r.byPair[pair], *x)
	}
	for _, rs := range r.byPair {
		sort.Slice(rs, func(i, j int) bool { return rs[i].asOf.Before(rs[j].asOf) })
	}
	return &r, errors.Join(errs...)
}

func (x *Rate) check() error {
	var errs []error
	for _, c := range []string{x.From, x.To} {
		if _, err := money.Exponent(c); err != nil {
			errs = append(errs, err)
		}
	}
	if x.From == x.To {
		errs = append(errs, fmt.Errorf("%s→%s: a currency into itself", x.From, x.To))
	}
	if !rateRE.MatchString(x.Rate) || isZero(x.Rate) {
		errs = append(errs, fmt.Errorf("rate %q: want a positive decimal with at most 12 fractional digits", x.Rate))
	}
	var err error
	if x.asOf, err = time.Parse(time.RFC3339, x.AsOf); err != nil {
		errs = append(errs, fmt.Errorf("as_of %q: want RFC 3339", x.AsOf))
	}
	if x.Source == "" {
		errs = append(errs, errors.New("no source (on the rate or the file)"))
	}
	return errors.Join(errs...)
}

func isZero(dec string) bool {
	r, ok := new(big.Rat).SetString(dec)
	return !ok || r.Sign() == 0
}

// Lookup is the latest rate of from→to as of at; false when there is none.
func (r *Rates) Lookup(from, to string, at time.Time) (Rate, bool) {
	if r == nil {
		return Rate{}, false
	}
	rs := r.byPair[[2]string{from, to}]
	i := sort.Search(len(rs), func(i int) bool { return rs[i].asOf.After(at) })
	if i == 0 {
		return Rate{}, false
	}
	return rs[i-1], true
}

// Convert turns amount minor units of from into minor units of to at rate
// (a decimal string), exactly, then rounds half to even once: amount ×
// rate × 10^(digits of to − digits of from).
func Convert(amount int64, from, to, rate string) (int64, error) {
	ef, err1 := money.Exponent(from)
	et, err2 := money.Exponent(to)
	r, ok := new(big.Rat).SetString(rate)
	if err := errors.Join(err1, err2); err != nil || !ok {
		return 0, fmt.Errorf("convert %s→%s at %q: %w", from, to, rate, errors.Join(err, errors.New("bad rate")))
	}
	v := new(big.Rat).Mul(new(big.Rat).SetInt64(amount), r)
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(et-ef))), nil))
	if et >= ef {
		v.Mul(v, scale)
	} else {
		v.Quo(v, scale)
	}
	q := roundHalfEven(v)
	if !q.IsInt64() {
		return 0, fmt.Errorf("convert %d %s→%s at %s: out of range", amount, from, to, rate)
	}
	return q.Int64(), nil
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// roundHalfEven rounds v to an integer, a tie to the even neighbour (the
// banker's rounding, unbiased over many conversions).
func roundHalfEven(v *big.Rat) *big.Int {
	num, den := v.Num(), v.Denom() // den > 0
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	twice := new(big.Int).Abs(new(big.Int).Mul(m, big.NewInt(2)))
	switch c := twice.Cmp(den); {
	case c > 0, c == 0 && q.Bit(0) == 1:
		q.Add(q, big.NewInt(int64(num.Sign())))
	}
	return q
}

// PayoutOf is what entry e pays in its payee's payout currency: the
// converted amount when it carries a rate snapshot, else its own amount
// and currency (a payee paid in the policy's currency, or an accrual held
// for a missing rate and approved as it stands). A payout-currency
// statement is the sum of PayoutOf over its entries, so it reconciles with
// the journal to the minor unit.
func PayoutOf(e schemas.JournalEntry) (string, int64) {
	if e.FXRate == "" {
		return e.Currency, e.AmountMinor
	}
	return e.PayoutCurrency, e.PayoutAmountMinor
}

// convertAccruals stamps each accrual whose payee is paid in another
// currency with its payout currency and, when the rates hold one as of at,
// the rate snapshot and the converted amount. It returns the ids of the
// positive accruals left without a rate, to be held (fx:missing_rate).
func (r Reference) convertAccruals(accrued []schemas.JournalEntry, at time.Time) ([]string, error) {
	if r.Licences == nil {
		return nil, nil
	}
	var missing []string
	for i := range accrued {
		e := &accrued[i]
		cur := r.Licences.Payees[e.PayeeType+":"+e.PayeeID].PayoutCurrency
		if cur == "" || cur == e.Currency {
			continue
		}
		e.PayoutCurrency = cur
		x, ok := r.Rates.Lookup(e.Currency, cur, at)
		if !ok {
			if e.AmountMinor > 0 {
				missing = append(missing, e.EntryID)
			}
			continue
		}
		v, err := Convert(e.AmountMinor, e.Currency, cur, x.Rate)
		if err != nil {
			return nil, err
		}
		e.PayoutAmountMinor, e.FXRate, e.FXSource, e.FXAsOf = v, x.Rate, x.Source, x.AsOf
	}
	return missing, nil
}

// payoutDelta is the payout-currency amount of a correction that takes
// accrual a's standing amount from before to after: the difference of the
// two conversions, not the conversion of the difference, so an accrual and
// all its corrections sum in the payout currency to the conversion of what
// stands (0 once reversed) whatever the rounding. 0 without a snapshot.
func payoutDelta(a schemas.JournalEntry, before, after int64) int64 {
	if a.FXRate == "" {
		return 0
	}
	b, err1 := Convert(before, a.Currency, a.PayoutCurrency, a.FXRate)
	c, err2 := Convert(after, a.Currency, a.PayoutCurrency, a.FXRate)
	if err1 != nil || err2 != nil {
		return 0 // unreachable: the snapshot converted a when it accrued
	}
	return c - b
}

// fxHolds are the hold decisions on the accruals among accrued that had no
// rate (missing), unless a named hold in held holds them already: held for
// fx:missing_rate until an admin decides, with the hold's own id.
func fxHolds(rs *RuleSet, ref Reference, accrued, held []schemas.JournalEntry, missing []string) []schemas.JournalEntry {
	if len(missing) == 0 {
		return nil
	}
	already := map[string]bool{}
	for _, h := range held {
		already[h.Corrects] = true
	}
	version := "none"
	if ref.Rates != nil {
		version = ref.Rates.Version
	}
	rule := &HoldRule{ID: "fx", Reason: HoldFXMissingRate}
	var out []schemas.JournalEntry
	for _, a := range accrued {
		if already[a.EntryID] || !slices.Contains(missing, a.EntryID) {
			continue
		}
		h := holdEntry(rs, rule, a)
		h.EntryID = entryID(schemas.EntryDecision, DecisionHold, HoldFXMissingRate, a.EntryID)
		h.Actor = "rule:fx@" + version
		out = append(out, h)
	}
	return out
}

// receivedAt is when the record env was received (its occurred_at when it
// has none): the time a rate is looked up as of, a property of the record,
// so a replay converts at the same rate.
func receivedAt(env schemas.Envelope) time.Time {
	if env.ReceivedAt != nil {
		return *env.ReceivedAt
	}
	return env.OccurredAt
}
