package commission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/money"
)

// Licences is the licence registry (--licences): per payee ("type:id") the
// licences it holds (jurisdiction, lines of authority, dates), its carrier
// appointments and the currency it is paid in. Data like the rules: a
// versioned JSON file, checked at load, hot-reloaded. Commission on a policy
// with a jurisdiction is paid only to a payee licensed there for the
// policy's product line on its effective date; anyone else gets the
// jurisdiction's referral fee (RuleSet.ReferralFees) and the entry says why
// (licence_check).
type Licences struct {
	SchemaVersion int                 `json:"schema_version"`
	Version       string              `json:"version"`
	Payees        map[string]Licensee `json:"payees"`
	Hash          string              `json:"-"` // of the file, to notice changes
}

// Licensee is what the registry knows of one payee.
type Licensee struct {
	// PayoutCurrency is the ISO 4217 currency the payee is paid in; empty:
	// the policy's. An accrual in another currency records its conversion
	// (see Rates).
	PayoutCurrency string    `json:"payout_currency,omitempty"`
	Licences       []Licence `json:"licences,omitempty"`
	// Appointments with carriers: on a policy naming its carrier
	// (policy.issued v2 carrier), a licensed payee is paid commission only
	// with an appointment by that carrier effective on the sale date.
	Appointments []Appointment `json:"appointments,omitempty"`
}

// Licence authorises its holder in one jurisdiction for some product lines
// from EffectiveOn through ExpiresOn (inclusive; none: open-ended).
type Licence struct {
	Jurisdiction string   `json:"jurisdiction"` // ISO 3166-2, e.g. US-CA
	Lines        []string `json:"lines"`        // lines of authority: product lines
	EffectiveOn  string   `json:"effective_on"` // YYYY-MM-DD
	ExpiresOn    string   `json:"expires_on,omitempty"`
	Number       string   `json:"number,omitempty"`
}

// Appointment is a carrier's appointment of the payee.
type Appointment struct {
	Carrier     string `json:"carrier"`
	EffectiveOn string `json:"effective_on"`
	ExpiresOn   string `json:"expires_on,omitempty"`
}

// ReferralFee is what a payee not licensed in a jurisdiction is paid
// instead of commission there: Flat (per currency, pro rata to its weight
// like a reward), or its commission share at most Cap (per currency); both
// empty: nothing. A jurisdiction the rules do not list pays nothing.
type ReferralFee struct {
	Flat Money `json:"flat,omitempty"`
	Cap  Money `json:"cap,omitempty"`
	flat minorAmounts
	cap  minorAmounts
}

var (
	jurisdictionRE = regexp.MustCompile(`^[A-Z]{2}-[A-Z0-9]{1,3}$`)
	payeeKeyRE     = regexp.MustCompile(`^(agent|broker|partner|customer|campaign|agency|mga):[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
)

// LoadLicences reads and checks a licence registry file.
func LoadLicences(path string) (*Licences, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read licences: %w", err)
	}
	l, err := ParseLicences(b)
	if err != nil {
		return nil, fmt.Errorf("licences %s: %w", path, err)
	}
	return l, nil
}

// ParseLicences decodes a registry strictly (an unknown field is refused:
// a misspelt "expires_on" must not make a licence open-ended) and checks
// every payee, licence and appointment, reporting every problem at once.
func ParseLicences(b []byte) (*Licences, error) {
	var l Licences
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	l.Hash = contentHash(b)
	var errs []error
	if l.SchemaVersion != 1 {
		errs = append(errs, fmt.Errorf("schema_version %d: want 1", l.SchemaVersion))
	}
	if l.Version == "" {
		errs = append(errs, errors.New("version: required"))
	}
	for _, k := range slices.Sorted(maps.Keys(l.Payees)) {
		errs = append(errs, l.Payees[k].check(k)...)
	}
	return &l, errors.Join(errs...)
}

func (p Licensee) check(key string) []error {
	var errs []error
	if !payeeKeyRE.MatchString(key) {
		errs = append(errs, fmt.Errorf("payee %q: want type:id", key))
	}
	if p.PayoutCurrency != "" {
		if _, err := money.Exponent(p.PayoutCurrency); err != nil {
			errs = append(errs, fmt.Errorf("payee %q: payout_currency: %w", key, err))
		}
	}
	for i, lic := range p.Licences {
		if !jurisdictionRE.MatchString(lic.Jurisdiction) {
			errs = append(errs, fmt.Errorf("payee %q: licence %d: jurisdiction %q: want ISO 3166-2 like US-CA", key, i, lic.Jurisdiction))
		}
		if len(lic.Lines) == 0 {
			errs = append(errs, fmt.Errorf("payee %q: licence %d: no lines of authority", key, i))
		}
		if err := checkDates(lic.EffectiveOn, lic.ExpiresOn); err != nil {
			errs = append(errs, fmt.Errorf("payee %q: licence %d: %w", key, i, err))
		}
	}
	for i, a := range p.Appointments {
		if a.Carrier == "" {
			errs = append(errs, fmt.Errorf("payee %q: appointment %d: no carrier", key, i))
		}
		if err := checkDates(a.EffectiveOn, a.ExpiresOn); err != nil {
			errs = append(errs, fmt.Errorf("payee %q: appointment %d: %w", key, i, err))
		}
	}
	return errs
}

// checkDates wants an effective date and, if any, an expiry not before it.
func checkDates(effective, expires string) error {
	from, err := time.Parse(time.DateOnly, effective)
	if err != nil {
		return fmt.Errorf("effective_on %q: want YYYY-MM-DD", effective)
	}
	if expires == "" {
		return nil
	}
	to, err := time.Parse(time.DateOnly, expires)
	if err != nil {
		return fmt.Errorf("expires_on %q: want YYYY-MM-DD", expires)
	}
	if to.Before(from) {
		return fmt.Errorf("expires_on %s is before effective_on %s", expires, effective)
	}
	return nil
}

// Licensed says whether payee holds a licence for line in jurisdiction on
// day on (YYYY-MM-DD; the dates order as text).
func (l *Licences) Licensed(payee, jurisdiction, line, on string) bool {
	for _, lic := range l.Payees[payee].Licences {
		if lic.Jurisdiction == jurisdiction && slices.Contains(lic.Lines, line) &&
			lic.EffectiveOn <= on && (lic.ExpiresOn == "" || on <= lic.ExpiresOn) {
			return true
		}
	}
	return false
}

// Appointed says whether payee holds an appointment by carrier on day on
// (YYYY-MM-DD, both ends inclusive).
func (l *Licences) Appointed(payee, carrier, on string) bool {
	for _, a := range l.Payees[payee].Appointments {
		if a.Carrier == carrier && a.EffectiveOn <= on && (a.ExpiresOn == "" || on <= a.ExpiresOn) {
			return true
		}
	}
	return false
}

// Reference is the reference data a calculation reads besides the rules:
// the licence registry and the FX rates, each nil when not configured.
// Like the rules, a batch reads each once.
type Reference struct {
	Licences *Licences
	Rates    *Rates
}

// licenceCheck is the licence_check of payee on policy p, and whether it
// may be paid commission. No registry, or a policy without jurisdiction
// (policy.issued v1): no check ("", true). A policy without a valid
// effective date cannot be shown licensed: unlicensed. The licence is
// judged first; then, on a policy naming its carrier, a payee not
// appointed by it that day is paid as if unlicensed (not_appointed), since
// a carrier pays commission only through the agents it appointed.
func (r Reference) licenceCheck(payee string, p schemas.PolicyIssued) (string, bool) {
	if r.Licences == nil || p.Jurisdiction == "" {
		return "", true
	}
	what := p.Jurisdiction + ":" + p.ProductLine
	if _, err := time.Parse(time.DateOnly, p.EffectiveDate); err != nil || !r.Licences.Licensed(payee, p.Jurisdiction, p.ProductLine, p.EffectiveDate) {
		return "unlicensed:" + what, false
	}
	if p.Carrier != "" && !r.Licences.Appointed(payee, p.Carrier, p.EffectiveDate) {
		return "not_appointed:" + p.Carrier, false
	}
	return "licensed:" + what, true
}

// paysCommission says whether a licence_check lets its payee earn
// commission (and so its uplines overrides): no check, or licensed.
func paysCommission(check string) bool {
	return check == "" || strings.HasPrefix(check, "licensed:")
}

// compileReferralFees parses the referral fees' money literals.
func (rs *RuleSet) compileReferralFees() []error {
	var errs []error
	for _, j := range slices.Sorted(maps.Keys(rs.ReferralFees)) {
		f := rs.ReferralFees[j]
		var err error
		if f.flat, err = parseMoney(f.Flat); err != nil {
			errs = append(errs, fmt.Errorf("referral_fees %s: flat: %w", j, err))
		}
		if f.cap, err = parseMoney(f.Cap); err != nil {
			errs = append(errs, fmt.Errorf("referral_fees %s: cap: %w", j, err))
		}
		rs.ReferralFees[j] = f
	}
	return errs
}

// referralFee turns direct accrual e of a payee unlicensed (or not
// appointed) for policy p into the jurisdiction's referral fee: rule
// "referral_fee:<jurisdiction>", rate "flat" (base: the whole fee, paid ×
// weight / 10 000, half away from zero), "capped" (base: the commission
// share, cap_applied when the cap bit) or "none" (0). The residue of the
// split stays with nobody's share: a fee is not a share of the policy's
// commission.
func referralFee(rs *RuleSet, e schemas.JournalEntry, p schemas.PolicyIssued, share int64) (schemas.JournalEntry, error) {
	f := rs.ReferralFees[p.Jurisdiction]
	e.RuleID = "referral_fee:" + p.Jurisdiction
	e.Band, e.MinApplied, e.CapApplied, e.ResidueMinor = "", false, false, 0
	switch {
	case f.flat != nil:
		fee, err := f.flat.in(p.Currency, "referral fee")
		if err != nil {
			return e, worker.Reject(CodeNoRule, "/payload/policy/currency", "rule set %s, %s: %v", rs.Version, e.RuleID, err)
		}
		e.Rate, e.BaseMinor, e.AmountMinor = "flat", fee, proRata(fee, int64(e.WeightBP), 10_000)
	case f.cap != nil:
		c, err := f.cap.in(p.Currency, "referral fee cap")
		if err != nil {
			return e, worker.Reject(CodeNoRule, "/payload/policy/currency", "rule set %s, %s: %v", rs.Version, e.RuleID, err)
		}
		e.Rate, e.BaseMinor, e.AmountMinor, e.CapApplied = "capped", share, min(share, c), share > c
	default:
		e.Rate, e.BaseMinor, e.AmountMinor = "none", 0, 0
	}
	return e, nil
}
