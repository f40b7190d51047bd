package validation

import (
	"strings"
	"unicode"
	"unicode/utf8"

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

// field is one normalized string: the object path to it under payload, its
// name there and how it is made canonical. The map normalizer and the fast
// path both walk this one list, in this order (the order of the reasons).
type field struct {
	path  []string
	name  string
	canon func(Normalizer, string) (string, *schemas.Reason)
}

var fields = []field{
	{nil, "product_line", pure(aliasOf(productAliases))},
	{nil, "product_interest", pure(aliasOf(productAliases))},
	{nil, "currency", pure(func(c string) string { return strings.ToUpper(strings.TrimSpace(c)) })},
	{[]string{"referrer"}, "type", pure(aliasOf(referrerAliases))},
	{[]string{"referrer"}, "id", pure(strings.TrimSpace)},
	{[]string{"lead"}, "email", unlessSealed(pure(func(e string) string { return strings.ToLower(strings.TrimSpace(e)) }))},
	{[]string{"lead"}, "name", unlessSealed(pure(name))},
	{[]string{"lead"}, "phone", unlessSealed(func(n Normalizer, p string) (string, *schemas.Reason) {
		e164, err := n.phone(p)
		if err != nil {
			return p, &schemas.Reason{Code: CodeInvalidPhone, Pointer: "/payload/lead/phone", Message: err.Error()}
		}
		return e164, nil
	})},
}

// SealedPrefix starts every contact value ingest has sealed (internal/pii:
// "enc:" and a format version). Ingest normalized the value before sealing
// it; rewriting the ciphertext (lower-casing it, say) would only break it.
const SealedPrefix = "enc:"

// unlessSealed leaves a sealed contact value as it is, for the schema's
// ciphertext pattern to judge.
func unlessSealed(canon func(Normalizer, string) (string, *schemas.Reason)) func(Normalizer, string) (string, *schemas.Reason) {
	return func(n Normalizer, s string) (string, *schemas.Reason) {
		if strings.HasPrefix(s, SealedPrefix) {
			return s, nil
		}
		return canon(n, s)
	}
}

func pure(f func(string) string) func(Normalizer, string) (string, *schemas.Reason) {
	return func(_ Normalizer, s string) (string, *schemas.Reason) { return f(s), nil }
}

// Normalize reports whether it changed anything (an unchanged event keeps
// its bytes, which spares re-encoding it) and returns reasons for values
// that cannot be normalized.
func (n Normalizer) Normalize(doc map[string]any) (changed bool, reasons []schemas.Reason) {
	payload, _ := doc["payload"].(map[string]any)
	if payload == nil {
		return false, nil
	}
	for _, f := range fields {
		m := payload
		for _, k := range f.path {
			m, _ = m[k].(map[string]any)
		}
		s, ok := m[f.name].(string)
		if !ok {
			continue
		}
		t, r := f.canon(n, s)
		if r != nil {
			reasons = append(reasons, *r)
		}
		if t != s {
			m[f.name], changed = t, true
		}
	}
	return changed, reasons
}

// phone reads s as a phone number in E.164. phonenumbers.Parse costs tens
// of µs (regexps for extensions and viability), so the commonest form of
// all, a North American number written with its +1, is read by nanpE164;
// TestNANPAgrees and FuzzNANPAgrees hold the two to the same result.
func (n Normalizer) phone(s string) (string, error) {
	if e164, ok := nanpE164(s); ok {
		return e164, nil
	}
	return n.parsePhone(s)
}

// nanpE164 reads "+1" and ten digits, the first of them 2–9 (so no national
// prefix to strip), with at most one ' ', '-' or '.' between digits. Every
// such number has a possible length for +1, and its E.164 form is its
// digits; anything else is left to phonenumbers (ok false).
func nanpE164(s string) (string, bool) {
	if len(s) < 12 || len(s) > 24 || s[0] != '+' || s[1] != '1' {
		return "", false
	}
	var digits [11]byte
	n, sep := 1, false
	digits[0] = '1'
	for i := 2; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if n == len(digits) {
				return "", false
			}
			digits[n], n, sep = c, n+1, false
		case (c == ' ' || c == '-' || c == '.') && !sep && i+1 < len(s):
			sep = true
		default:
			return "", false
		}
	}
	if n != len(digits) || digits[1] < '2' {
		return "", false
	}
	if len(s) == 12 {
		return s, true // E.164 already: no copy
	}
	return "+" + string(digits[:]), true
}

// parsePhone is the reference reading, by phonenumbers.
func (n Normalizer) parsePhone(s string) (string, error) {
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
		if aliases[s] == s {
			return s // canonical already: keys are lower-case and collapsed
		}
		if canon, ok := aliases[strings.ToLower(collapse(s))]; ok {
			return canon
		}
		return s
	}
}

// name is a person's name in NFC with its white space collapsed.
func name(s string) string {
	if collapsed(s) && norm.NFC.IsNormalString(s) {
		return s // the common case, without collapse's allocations
	}
	return collapse(norm.NFC.String(s))
}

// collapsed reports whether collapse(s) == s: no control characters, no
// white space but single ' ' between words.
func collapsed(s string) bool {
	prevSpace := true // a leading space is not collapsed
	for _, r := range s {
		space := unicode.IsSpace(r)
		switch {
		case space && (prevSpace || r != ' '):
			return false
		case !space && unicode.IsControl(r), r == utf8.RuneError: // collapse rewrites invalid UTF-8
			return false
		}
		prevSpace = space
	}
	return !prevSpace || s == ""
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
