package validation

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/nyaruka/phonenumbers"
	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/jsoncheck"
	"github.com/reftrack/reftrack/schemas/money"
)

// Reason codes of rejected events. They are part of the contract: partners
// and dashboards match on them.
const (
	CodeInvalidUTF8        = "invalid_utf8"
	CodeMalformedJSON      = "malformed_json"
	CodeNotObject          = "not_an_object"
	CodeUnknownEventType   = "unknown_event_type"
	CodeUnsupportedVersion = "unsupported_schema_version"
	CodeSchema             = "schema_violation"
	CodeInvalidAmount      = "invalid_amount"
	CodeUnknownCurrency    = "unknown_currency"
)

type schemaKey struct {
	eventType string
	version   int
}

// Config is the one configuration of validation: ingest's synchronous check
// and the validate stage register the same flag from here, so they cannot
// read an event differently.
type Config struct {
	PhoneRegion string // ISO 3166 region for phone numbers without a country code
}

// DefaultConfig is what the flags default to.
var DefaultConfig = Config{PhoneRegion: "US"}

// RegisterFlags registers --phone-region.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.PhoneRegion, "phone-region", DefaultConfig.PhoneRegion, "ISO 3166 region assumed for phone numbers without a country code")
}

// Validate reports a region phonenumbers does not know.
func (c Config) Validate() error {
	if phonenumbers.GetCountryCodeForRegion(c.PhoneRegion) == 0 {
		return fmt.Errorf("--phone-region %q: want a two-letter region such as US or GB", c.PhoneRegion)
	}
	return nil
}

// Validator holds the compiled schemas; it is safe for concurrent use.
type Validator struct {
	schemas   map[schemaKey]*jsonschema.Schema
	fast      map[schemaKey]*checker // the per-event verdict; see fast.go
	normalize Normalizer
}

// New compiles the schema of every partner event type and version found in
// the schemas package, and from each the fast checker that judges events
// before jsonschema/v5 is asked for reasons. It refuses to start on a
// schema the fast checker does not understand.
func New(c Config) (*Validator, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	v, err := newValidator(true)
	if err != nil {
		return nil, err
	}
	v.normalize.PhoneRegion = c.PhoneRegion
	return v, nil
}

// newValidator compiles the schemas with the envelope folded into each
// event type's schema (see inlineEnvelope) or, for tests, as published.
func newValidator(inline bool) (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	files := schemas.JSONSchemas()
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, fmt.Errorf("list schemas: %w", err)
	}
	docs := map[string]map[string]any{}
	raws := map[string][]byte{}
	for _, e := range entries {
		b, err := fs.ReadFile(files, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read schema %s: %w", e.Name(), err)
		}
		doc, err := jsoncheck.Decode(b)
		m, ok := doc.(map[string]any)
		if err != nil || !ok {
			return nil, fmt.Errorf("decode schema %s: not a JSON object (%v)", e.Name(), err)
		}
		docs[e.Name()], raws[e.Name()] = m, b
	}
	for name, b := range raws {
		if folded, ok := inlineEnvelope(docs[name], docs); ok && inline {
			if b, err = json.Marshal(folded); err != nil {
				return nil, fmt.Errorf("encode folded schema %s: %w", name, err)
			}
		}
		if err := c.AddResource(schemas.SchemaBaseURL+name, bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("load schema %s: %w", name, err)
		}
	}
	v := &Validator{schemas: map[schemaKey]*jsonschema.Schema{}, fast: map[schemaKey]*checker{},
		normalize: Normalizer(DefaultConfig)}
	cc := newCompiler()
	for _, t := range schemas.PartnerEventTypes {
		for version := 1; ; version++ {
			name := schemas.SchemaFile(t, version)
			if _, err := fs.Stat(files, name); err != nil {
				if version == 1 {
					return nil, fmt.Errorf("no schema for %s", t)
				}
				break
			}
			s, err := c.Compile(schemas.SchemaBaseURL + name)
			if err != nil {
				return nil, fmt.Errorf("compile schema %s: %w", name, err)
			}
			f, err := cc.compile(s)
			if err != nil {
				return nil, fmt.Errorf("compile the fast checker of %s: %w", name, err)
			}
			v.schemas[schemaKey{t, version}], v.fast[schemaKey{t, version}] = s, f
		}
	}
	return v, nil
}

// Check validates one raw event and returns its identifying envelope fields
// (ids, type, version, partner, lead; not times or payload) and its
// normalized bytes, or every reason it is invalid. It never panics and
// never writes to raw.
//
// The fast checker gives the verdict; only an event it does not pass is
// decoded into a map and judged by jsonschema/v5, which names the reasons
// (and has the last word: the fast path only ever says "valid").
func (v *Validator) Check(raw []byte) (schemas.Envelope, []byte, []schemas.Reason) {
	if env, out, ok := v.fastCheck(raw); ok {
		return env, out, nil
	}
	return v.slowCheck(raw)
}

// slowCheck is the reference: jsoncheck's decode, the normalizer on the
// map, jsonschema/v5, encoding/json for a changed event.
func (v *Validator) slowCheck(raw []byte) (schemas.Envelope, []byte, []schemas.Reason) {
	env, reasons := v.check(&raw)
	return env, raw, reasons
}

func (v *Validator) check(rawp *[]byte) (schemas.Envelope, []schemas.Reason) {
	var env schemas.Envelope
	raw := *rawp
	if !utf8.Valid(raw) {
		return env, []schemas.Reason{{Code: CodeInvalidUTF8, Message: "event is not valid UTF-8"}}
	}
	doc, err := jsoncheck.Decode(raw)
	var jerr *jsoncheck.Error
	switch {
	case errors.As(err, &jerr):
		return env, []schemas.Reason{{Code: jerr.Code, Pointer: jerr.Pointer, Message: jerr.Message}}
	case err != nil:
		return env, []schemas.Reason{{Code: CodeMalformedJSON, Message: err.Error()}}
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return env, []schemas.Reason{{Code: CodeNotObject, Message: "event must be a JSON object"}}
	}
	eventType, _ := obj["event_type"].(string)
	version, _ := obj["schema_version"].(json.Number)
	known := false
	for _, t := range schemas.PartnerEventTypes {
		known = known || t == eventType
	}
	if !known {
		return env, []schemas.Reason{{Code: CodeUnknownEventType, Pointer: "/event_type",
			Message: fmt.Sprintf("event_type %q is not one of %v", eventType, schemas.PartnerEventTypes)}}
	}
	n, err := version.Int64()
	s := v.schemas[schemaKey{eventType, int(n)}]
	if err != nil || s == nil {
		return env, []schemas.Reason{{Code: CodeUnsupportedVersion, Pointer: "/schema_version",
			Message: fmt.Sprintf("schema_version %q is not supported for %s", version.String(), eventType)}}
	}
	changed, reasons := v.normalize.Normalize(obj)
	if len(reasons) > 0 {
		return env, reasons
	}
	if err := s.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return env, []schemas.Reason{{Code: CodeSchema, Message: err.Error()}}
		}
		return env, leafReasons(ve)
	}
	// JSON Schema's date-time admits a few forms Go's time cannot hold (a
	// leap second, say); every later stage decodes times, so refuse them here.
	for _, k := range []string{"occurred_at", "received_at"} {
		if ts, ok := obj[k].(string); ok {
			if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
				return env, []schemas.Reason{{Code: CodeSchema, Pointer: "/" + k, Message: err.Error()}}
			}
		}
	}
	if reasons := checkMoney(eventType, obj); len(reasons) > 0 {
		return env, reasons
	}
	var normalized []byte
	if changed {
		normalized, err = json.Marshal(obj)
	} else {
		// As sent, minus white space. jsontext compacts in place three
		// times faster than encoding/json's Compact (which was 14 % of
		// an unchanged event's time); the copy keeps the record's own
		// bytes as they came.
		out := jsontext.Value(bytes.Clone(raw))
		err = out.Compact()
		normalized = out
	}
	if err != nil {
		return env, []schemas.Reason{{Code: CodeSchema, Message: err.Error()}}
	}
	*rawp = normalized
	// The schema has guaranteed the shape, so the identifying fields are
	// read off the decoded value rather than decoding the event again.
	str := func(k string) string { v, _ := obj[k].(string); return v }
	env = schemas.Envelope{EventID: str("event_id"), EventType: eventType, SchemaVersion: int(n),
		PartnerID: str("partner_id"), LeadID: str("lead_id"), IdempotencyKey: str("idempotency_key")}
	return env, nil
}

// leafReasons flattens a validation error tree to its leaves: the parents
// only say "doesn't validate with ...", the leaves say what is wrong.
func leafReasons(ve *jsonschema.ValidationError) []schemas.Reason {
	var out []schemas.Reason
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, schemas.Reason{Code: CodeSchema, Pointer: e.InstanceLocation, Message: e.Message})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return out
}

// checkMoney applies the rules a JSON Schema cannot: the currency must be
// one reftrack knows the minor digits of, and the premium must fit them.
func checkMoney(eventType string, obj map[string]any) []schemas.Reason {
	if eventType != schemas.TypePolicyIssued {
		return nil
	}
	payload, _ := obj["payload"].(map[string]any)
	premium, _ := payload["annual_premium"].(string)
	currency, _ := payload["currency"].(string)
	return append(moneyReasons(premium, currency), installmentReasons(payload, currency)...)
}

// moneyReasons is checkMoney on the two strings, shared with the fast path.
func moneyReasons(premium, currency string) []schemas.Reason {
	_, err := money.ParseMinor(premium, currency)
	switch {
	case errors.Is(err, money.ErrUnknownCurrency):
		return []schemas.Reason{{Code: CodeUnknownCurrency, Pointer: "/payload/currency", Message: err.Error()}}
	case err != nil:
		return []schemas.Reason{{Code: CodeInvalidAmount, Pointer: "/payload/annual_premium", Message: err.Error()}}
	}
	return nil
}
