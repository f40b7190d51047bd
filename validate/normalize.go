package validate

import (
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/unicode/norm"

	"github.com/reftrack/reftrack/schemas"
)

// CodeInvalidPhone rejects a phone number that cannot be read as one.
const CodeInvalidPhone = "invalid_phone"

// Aliases partners send for canonical values; keys are lower-case with
// single spaces. Unknown values are left as sent for the schema to reject.
var (
	referrerAliases = map[string]string{
		"agent": "agent", "insurance agent": "agent", "producer": "agent",
		"broker": "broker", "brokerage": "broker", "insurance broker": "broker",
		"partner": "partner", "affiliate": "partner", "comparison site": "partner",
		"customer": "customer", "client": "customer", "policyholder": "customer", "member": "customer",
		"campaign": "campaign", "ad": "campaign", "marketing": "campaign",
	}
	productAliases = map[string]string{
		"auto": "auto", "car": "auto", "motor": "auto", "vehicle": "auto", "auto insurance": "auto", "car insurance": "auto",
		"home": "home", "house": "home", "homeowners": "home", "property": "home", "home insurance": "home",
		"life": "life", "term life": "life", "whole life": "life", "life insurance": "life",
		"health": "health", "medical": "health", "health insurance": "health",
		"commercial": "commercial", "business": "commercial", "commercial lines": "commercial",
		"travel": "travel", "trip": "travel", "travel insurance": "travel",
	}
)

// Normalizer rewrites a decoded event in place to canonical form before the
// schema sees it: aliases to canonical values, emails trimmed and
// lower-cased, phones to E.164, names Unicode NFC with collapsed whitespace,
// currency codes upper-cased. It is a pure function of the event and the
// default phone region.
type Normalizer struct {
	PhoneRegion string // ISO 3166 region for numbers without a country code
}

// Normalize reports whether it changed anything (an unchanged event keeps
// its bytes, which spares re-encoding it) and returns reasons for values
// that cannot be normalized.
func (n Normalizer) Normalize(doc map[string]any) (changed bool, reasons []schemas.Reason) {
	payload, _ := doc["payload"].(map[string]any)
	if payload == nil {
		return false, nil
	}
	// edit applies f to m[key] when it is a string and records a change.
	edit := func(m map[string]any, key string, f func(string) string) {
		if s, ok := m[key].(string); ok {
			if t := f(s); t != s {
				m[key], changed = t, true
			}
		}
	}
	edit(payload, "product_line", aliasOf(productAliases))
	edit(payload, "product_interest", aliasOf(productAliases))
	edit(payload, "currency", func(c string) string { return strings.ToUpper(strings.TrimSpace(c)) })
	if ref, ok := payload["referrer"].(map[string]any); ok {
		edit(ref, "type", aliasOf(referrerAliases))
		edit(ref, "id", strings.TrimSpace)
	}
	if lead, ok := payload["lead"].(map[string]any); ok {
		edit(lead, "email", func(e string) string { return strings.ToLower(strings.TrimSpace(e)) })
		edit(lead, "name", func(nm string) string { return collapse(norm.NFC.String(nm)) })
		edit(lead, "phone", func(p string) string {
			e164, err := n.phone(p)
			if err != nil {
				reasons = append(reasons, schemas.Reason{Code: CodeInvalidPhone, Pointer: "/payload/lead/phone", Message: err.Error()})
				return p
			}
			return e164
		})
	}
	return changed, reasons
}

func (n Normalizer) phone(s string) (string, error) {
	num, err := phonenumbers.Parse(s, n.PhoneRegion)
	if err != nil {
		return "", err
	}
	if !phonenumbers.IsPossibleNumber(num) {
		return "", errImpossiblePhone
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

type phoneError string

func (e phoneError) Error() string { return string(e) }

const errImpossiblePhone = phoneError("not a possible phone number for its country")

// aliasOf maps a value to its canonical form, leaving unknown ones as sent.
func aliasOf(aliases map[string]string) func(string) string {
	return func(s string) string {
		if canon, ok := aliases[strings.ToLower(collapse(s))]; ok {
			return canon
		}
		return s
	}
}

// collapse trims, drops control characters (NUL and friends have no place
// in a name) and turns every run of white space into one space.
func collapse(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}
