package sample

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"slices"
)

// Reference is the oracle's own reading of the reference data commission
// runs with besides the rules (issue #18): the licence registry
// (`--licences`) and the FX rates (`--fx-rates`). Like Rules it is written
// apart from package commission, from the documented semantics
// (commission/README.md, "Licences and referral fees", "FX snapshots").
//
// With a Reference, Generate also makes v2 policies (jurisdiction, agent of
// record, a renewal) and banned referrers' sales (Options.V2Fraction,
// Options.BannedFraction).
type Reference struct {
	licences     map[string][]licence     // by payee "type:id"
	appointments map[string][]appointment // by payee "type:id"
	payout       map[string]string        // payee → payout currency
	rates        map[[2]string]*big.Rat
	// Jurisdictions are those the registry licenses anybody in, sorted:
	// the generator writes its v2 policies in them.
	Jurisdictions []string
	// Agents are the agent payees ("agent:id") of the registry, sorted:
	// the generator names them agents of record.
	Agents []string
	// Carriers are those the registry has appointments with, sorted: the
	// generator's v2 policies name one.
	Carriers []string
}

// appointment is a carrier's appointment of a payee, like a licence's
// dates.
type appointment struct {
	carrier  string
	from, to string
}

type licence struct {
	jurisdiction string
	lines        []string
	from, to     string // YYYY-MM-DD, inclusive; to "" is open-ended
}

type licenceFile struct {
	SchemaVersion int `json:"schema_version"`
	Payees        map[string]struct {
		PayoutCurrency string `json:"payout_currency"`
		Licences       []struct {
			Jurisdiction string   `json:"jurisdiction"`
			Lines        []string `json:"lines"`
			EffectiveOn  string   `json:"effective_on"`
			ExpiresOn    string   `json:"expires_on"`
		} `json:"licences"`
		Appointments []struct {
			Carrier     string `json:"carrier"`
			EffectiveOn string `json:"effective_on"`
			ExpiresOn   string `json:"expires_on"`
		} `json:"appointments"`
	} `json:"payees"`
}

type ratesFile struct {
	SchemaVersion int `json:"schema_version"`
	Rates         []struct {
		From string `json:"from"`
		To   string `json:"to"`
		Rate string `json:"rate"`
	} `json:"rates"`
}

// LoadReference reads a licence registry and, when ratesPath is not "", an
// FX rate file. The oracle takes a pair's rate as the pipeline does only
// when the pair has one rate: every receipt is then after it (given its
// as_of is in the past), whatever the wall clock.
func LoadReference(licencesPath, ratesPath string) (*Reference, error) {
	var lf licenceFile
	if err := readJSON(licencesPath, &lf); err != nil {
		return nil, err
	}
	if lf.SchemaVersion != 1 {
		return nil, fmt.Errorf("licences %s: schema_version %d is beyond the oracle", licencesPath, lf.SchemaVersion)
	}
	ref := &Reference{licences: map[string][]licence{}, appointments: map[string][]appointment{}, payout: map[string]string{},
		rates: map[[2]string]*big.Rat{}}
	for payee, p := range lf.Payees {
		if p.PayoutCurrency != "" {
			ref.payout[payee] = p.PayoutCurrency
		}
		for _, l := range p.Licences {
			ref.licences[payee] = append(ref.licences[payee], licence{l.Jurisdiction, l.Lines, l.EffectiveOn, l.ExpiresOn})
			if !slices.Contains(ref.Jurisdictions, l.Jurisdiction) {
				ref.Jurisdictions = append(ref.Jurisdictions, l.Jurisdiction)
			}
		}
		for _, a := range p.Appointments {
			ref.appointments[payee] = append(ref.appointments[payee], appointment{a.Carrier, a.EffectiveOn, a.ExpiresOn})
			if !slices.Contains(ref.Carriers, a.Carrier) {
				ref.Carriers = append(ref.Carriers, a.Carrier)
			}
		}
		if len(payee) > len("agent:") && payee[:len("agent:")] == "agent:" {
			ref.Agents = append(ref.Agents, payee)
		}
	}
	slices.Sort(ref.Jurisdictions)
	slices.Sort(ref.Agents)
	slices.Sort(ref.Carriers)
	if ratesPath == "" {
		return ref, nil
	}
	return ref, ref.readRates(ratesPath)
}

func (ref *Reference) readRates(path string) error {
	var rf ratesFile
	if err := readJSON(path, &rf); err != nil {
		return err
	}
	if rf.SchemaVersion != 1 {
		return fmt.Errorf("fx rates %s: schema_version %d is beyond the oracle", path, rf.SchemaVersion)
	}
	for _, r := range rf.Rates {
		pair := [2]string{r.From, r.To}
		if _, dup := ref.rates[pair]; dup {
			return fmt.Errorf("fx rates %s: more than one %s→%s rate is beyond the oracle (which applies depends on receipt times)", path, r.From, r.To)
		}
		v, ok := new(big.Rat).SetString(r.Rate)
		if !ok || v.Sign() <= 0 {
			return fmt.Errorf("fx rates %s: rate %s→%s %q", path, r.From, r.To, r.Rate)
		}
		ref.rates[pair] = v
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// licensed says whether payee holds a licence for line in jurisdiction on
// day on (YYYY-MM-DD, both ends inclusive).
func (ref *Reference) licensed(payee, jurisdiction, line, on string) bool {
	for _, l := range ref.licences[payee] {
		if l.jurisdiction == jurisdiction && slices.Contains(l.lines, line) && l.from <= on && (l.to == "" || on <= l.to) {
			return true
		}
	}
	return false
}

// appointed says whether payee holds an appointment by carrier on day on
// (YYYY-MM-DD, both ends inclusive).
func (ref *Reference) appointed(payee, carrier, on string) bool {
	for _, a := range ref.appointments[payee] {
		if a.carrier == carrier && a.from <= on && (a.to == "" || on <= a.to) {
			return true
		}
	}
	return false
}

// check is how the registry judges payee on policy p, in the words of
// licence_check: "" (no registry, or a v1 policy: not checked),
// "unlicensed", "not_appointed" (licensed, but not appointed by the
// policy's carrier on its effective date) or "licensed".
func (ref *Reference) check(payee string, p policyTerms) string {
	switch {
	case ref == nil || p.jurisdiction == "":
		return ""
	case !ref.licensed(payee, p.jurisdiction, p.product, p.effective):
		return "unlicensed"
	case p.carrier != "" && !ref.appointed(payee, p.carrier, p.effective):
		return "not_appointed"
	}
	return "licensed"
}

// payoutOf is what an accrual of amount (minor units of currency) to payee
// adds to its payout: in its payout currency, converted exactly and
// rounded once half to even, when it has one other than currency and a
// rate; else amount in currency. held says the pipeline holds the accrual
// for a missing rate (fx:missing_rate).
func (ref *Reference) payoutOf(payee, currency string, amount int64) (cur string, v int64, held bool) {
	if ref == nil {
		return currency, amount, false
	}
	to, ok := ref.payout[payee]
	if !ok || to == currency {
		return currency, amount, false
	}
	rate, ok := ref.rates[[2]string{currency, to}]
	if !ok {
		return currency, amount, true
	}
	x := new(big.Rat).Mul(rate, new(big.Rat).SetInt64(amount))
	for range minorDigits[to] {
		x.Mul(x, big.NewRat(10, 1))
	}
	for range minorDigits[currency] {
		x.Quo(x, big.NewRat(10, 1))
	}
	return to, halfEven(x), false
}

// halfEven rounds x to an integer, ties to the even one.
func halfEven(x *big.Rat) int64 {
	q, r := new(big.Int).QuoRem(x.Num(), x.Denom(), new(big.Int)) // truncates toward zero
	twice := new(big.Int).Abs(new(big.Int).Mul(r, big.NewInt(2)))
	switch c := twice.Cmp(x.Denom()); {
	case c > 0, c == 0 && q.Bit(0) == 1:
		if x.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q.Int64()
}
