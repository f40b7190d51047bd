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

// Normalize returns reasons for values that cannot be normalized.
func (n Normalizer) Normalize(doc map[string]any) []schemas.Reason {
	payload, _ := doc["payload"].(map[string]any)
	if payload == nil {
		return nil
	}
	var reasons []schemas.Reason
	alias(payload, "product_line", productAliases)
	alias(payload, "product_interest", productAliases)
	if c, ok := payload["currency"].(string); ok {
		payload["currency"] = strings.ToUpper(strings.TrimSpace(c))
	}
	if ref, ok := payload["referrer"].(map[string]any); ok {
		alias(ref, "type", referrerAliases)
		if id, ok := ref["id"].(string); ok {
			ref["id"] = strings.TrimSpace(id)
		}
	}
	if lead, ok := payload["lead"].(map[string]any); ok {
		if e, ok := lead["email"].(string); ok {
			lead["email"] = strings.ToLower(strings.TrimSpace(e))
		}
		if nm, ok := lead["name"].(string); ok {
			lead["name"] = collapse(norm.NFC.String(nm))
		}
		if p, ok := lead["phone"].(string); ok {
			e164, err := n.phone(p)
			if err != nil {
				reasons = append(reasons, schemas.Reason{Code: CodeInvalidPhone, Pointer: "/payload/lead/phone", Message: err.Error()})
			} else {
				lead["phone"] = e164
			}
		}
	}
	return reasons
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

func alias(m map[string]any, key string, aliases map[string]string) {
	s, ok := m[key].(string)
	if !ok {
		return
	}
	if canon, ok := aliases[strings.ToLower(collapse(s))]; ok {
		m[key] = canon
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
