package ingest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/reftrack/reftrack/internal/pii"
	"github.com/reftrack/reftrack/internal/rediscfg"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/jsoncheck"
	"github.com/reftrack/reftrack/schemas/validation"
)

// Modes of --pii-mode.
const (
	PIIModeOff  = "off"
	PIIModeSeal = "seal"
)

// Reason codes of contacts ingest will not seal (PRIVACY.md, integration
// plan step 3).
const (
	// CodeSealedFromPartner refuses a contact value that already looks
	// sealed: only ingest seals, so it is a mistake or another lead's
	// ciphertext planted here.
	CodeSealedFromPartner = "sealed_value_from_partner"
	// CodeContactWithoutSubject refuses a contact on an event that names
	// no partner or no lead: there is no subject whose key could seal it,
	// and no erasure could ever reach it.
	CodeContactWithoutSubject = "contact_without_subject"
	// CodeInvalidContact refuses a contact member that is not a string.
	CodeInvalidContact = "invalid_contact"
)

// PIIConfig is how ingest treats the leads' contacts: as sent (off) or
// normalized, checked and sealed under each lead's data key (seal).
type PIIConfig struct {
	Mode    string
	Keyring string
	Store   rediscfg.Config // the key store: a Redis of its own
}

// RegisterFlags registers --pii-mode, --pii-keyring and the key store's
// --pii-redis* flags (the same as `reftrack erase` and `reftrack pii` take).
func (p *PIIConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&p.Mode, "pii-mode", PIIModeOff, "off: leads' contacts travel as sent; seal: each contact is normalized, checked and sealed (AES-256-GCM under the lead's data key, PRIVACY.md) before it is produced")
	fs.StringVar(&p.Keyring, "pii-keyring", "", "keyring file whose KEKs wrap the data keys (JSON, mode 0600); required with --pii-mode seal")
	pii.RegisterStoreFlags(fs, &p.Store)
}

// Validate refuses an unknown mode, and seal without a keyring or with a
// key store it could not reach.
func (p *PIIConfig) Validate() error {
	switch p.Mode {
	case PIIModeOff:
		return nil
	case PIIModeSeal:
		var errs []error
		if p.Keyring == "" {
			errs = append(errs, errors.New("--pii-keyring: required with --pii-mode seal"))
		}
		if err := p.Store.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("key store (--%sredis…): %w", pii.StoreFlagPrefix, err))
		}
		return errors.Join(errs...)
	default:
		return fmt.Errorf("--pii-mode %q: want %s or %s", p.Mode, PIIModeOff, PIIModeSeal)
	}
}

// open builds seal mode's Sealer, connected to the key store; nil when
// off. The returned func closes the key store.
// v is the validator to check contacts with; nil compiles one.
func (p *PIIConfig) open(ctx context.Context, vc validation.Config, v *validation.Validator) (*Sealer, func(), error) {
	if p.Mode != PIIModeSeal {
		return nil, func() {}, nil
	}
	ring, err := pii.LoadKeyring(p.Keyring)
	if err != nil {
		return nil, nil, fmt.Errorf("--pii-keyring: %w", err)
	}
	if v == nil {
		if v, err = validation.New(vc); err != nil {
			return nil, nil, fmt.Errorf("build the contact checker: %w", err)
		}
	}
	rdb, err := p.Store.Connect(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("key store: %w", err)
	}
	s := &Sealer{
		Cipher:     &pii.Cipher{Ring: ring, Store: &pii.RedisStore{RDB: rdb, Prefix: p.Store.KeyPrefix}},
		Validator:  v,
		Normalizer: validation.Normalizer(vc),
		ping:       func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
	}
	return s, func() { _ = rdb.Close() }, nil
}

// Sealer seals the lead's contact of stamped events, in place, before they
// are produced: after the event id is derived (sealing is randomized, the
// id must not be) and after the contact was normalized and checked, which
// validate can no longer do once the values are sealed.
type Sealer struct {
	Cipher     *pii.Cipher
	Validator  *validation.Validator // the validate stage's schemas: the contact's rules
	Normalizer validation.Normalizer // the same --phone-region as validate
	ping       func(context.Context) error
}

// located is one event's contact, split where it sits in the event's bytes
// so that only the contact's members are rewritten.
type located struct {
	top, payload, lead []jsoncheck.Member
	payloadAt, leadAt  int
	subject            pii.Subject
	contact            schemas.Contact // normalized, clear until sealed
}

// Seal seals the contact of every event in place. reasons[i] says why
// event i's contact cannot be accepted; when any event has reasons,
// nothing is sealed (no data key is created for a refused request). err is
// the key store's or keyring's failure: nothing may be produced then, and
// never the clear contact.
func (s *Sealer) Seal(ctx context.Context, events []Stamped) (reasons [][]schemas.Reason, err error) {
	locs := make([]*located, len(events))
	reasons = make([][]schemas.Reason, len(events))
	refused := false
	for i, ev := range events {
		locs[i], reasons[i] = s.prepare(ev)
		refused = refused || len(reasons[i]) > 0
	}
	if refused {
		return reasons, nil
	}
	return reasons, s.sealLocated(ctx, events, locs)
}

// SealEach is Seal for events that stand alone (the Kafka path's records):
// an event with reasons is left as it is, the others are sealed.
func (s *Sealer) SealEach(ctx context.Context, events []Stamped) (reasons [][]schemas.Reason, err error) {
	locs := make([]*located, len(events))
	reasons = make([][]schemas.Reason, len(events))
	for i, ev := range events {
		locs[i], reasons[i] = s.prepare(ev)
	}
	return reasons, s.sealLocated(ctx, events, locs)
}

// sealLocated seals the located contacts (nil: none) of events in place,
// with one KeysFor for them all.
func (s *Sealer) sealLocated(ctx context.Context, events []Stamped, locs []*located) error {
	keys, err := s.keysFor(ctx, locs)
	if err != nil {
		return err
	}
	for i, l := range locs {
		if l == nil {
			continue
		}
		if err := pii.SealContact(keys[l.subject], &l.contact); err != nil {
			return fmt.Errorf("seal the contact of event %s: %w", events[i].EventID, err)
		}
		if events[i].Value, err = l.rewrite(); err != nil {
			return fmt.Errorf("rewrite event %s: %w", events[i].EventID, err)
		}
	}
	return nil
}

// keysFor fetches (or creates) the data key of every subject of the batch
// in one call: two key store round trips whatever the batch size.
func (s *Sealer) keysFor(ctx context.Context, locs []*located) (map[pii.Subject]*pii.DataKey, error) {
	var subjects []pii.Subject
	seen := map[pii.Subject]bool{}
	for _, l := range locs {
		if l != nil && !seen[l.subject] {
			seen[l.subject] = true
			subjects = append(subjects, l.subject)
		}
	}
	out := make(map[pii.Subject]*pii.DataKey, len(subjects))
	if len(subjects) == 0 {
		return out, nil
	}
	keys, err := s.Cipher.KeysFor(ctx, subjects)
	if err != nil {
		return nil, fmt.Errorf("data keys of %d leads: %w", len(subjects), err)
	}
	for i, k := range keys {
		out[subjects[i]] = k
	}
	return out, nil
}

// prepare finds an event's contact and checks and normalizes it; nil and
// no reasons for an event without one.
func (s *Sealer) prepare(ev Stamped) (*located, []schemas.Reason) {
	l, err := locate(ev.Value)
	if errors.Is(err, errLeadNotObject) {
		// Whatever it holds cannot be sealed field by field, and must not
		// travel on in the clear to a dead letter.
		return nil, []schemas.Reason{{Code: CodeInvalidContact, Pointer: "/payload/lead", Message: "lead must be an object"}}
	}
	if err != nil || l == nil {
		return nil, nil // StampFor has read these bytes; nothing here to seal
	}
	if rs := l.read(); len(rs) > 0 {
		return nil, rs
	}
	// The validate stage's rules for the contact, with its reasons: once
	// sealed, validate can only see ciphertexts. Reasons elsewhere in the
	// event stay validate's to give (as a dead letter, with the contact
	// sealed).
	if _, _, rs := s.Validator.Check(ev.Value); len(rs) > 0 {
		if cr := contactReasons(rs); len(cr) > 0 {
			return nil, cr
		}
	}
	if rs := s.normalize(&l.contact); len(rs) > 0 {
		return nil, rs
	}
	lead, _ := topString(l.top, "lead_id")
	if ev.PartnerID == "" || lead == "" || strings.Contains(ev.PartnerID, "|") {
		return nil, []schemas.Reason{{Code: CodeContactWithoutSubject, Pointer: "/payload/lead",
			Message: "a lead's contact needs the event's partner_id and lead_id"}}
	}
	l.subject = pii.Subject{Partner: ev.PartnerID, Lead: lead}
	return l, nil
}

// contactReasons keeps the reasons about payload.lead.
func contactReasons(rs []schemas.Reason) []schemas.Reason {
	var out []schemas.Reason
	for _, r := range rs {
		if r.Pointer == "/payload/lead" || strings.HasPrefix(r.Pointer, "/payload/lead/") {
			out = append(out, r)
		}
	}
	return out
}

// normalize applies validate's normalizer to the contact alone: the same
// function of the same strings, so validate would have made the same
// values.
func (s *Sealer) normalize(c *schemas.Contact) []schemas.Reason {
	lead := map[string]any{}
	for _, f := range contactPtrs(c) {
		if *f.value != "" {
			lead[f.name] = *f.value
		}
	}
	if _, rs := s.Normalizer.Normalize(map[string]any{"payload": map[string]any{"lead": lead}}); len(rs) > 0 {
		return rs
	}
	for _, f := range contactPtrs(c) {
		if v, ok := lead[f.name].(string); ok {
			*f.value = v
		}
	}
	return nil
}

type contactPtr struct {
	name  string
	value *string
}

func contactPtrs(c *schemas.Contact) []contactPtr {
	return []contactPtr{{pii.FieldName, &c.Name}, {pii.FieldEmail, &c.Email}, {pii.FieldPhone, &c.Phone}}
}

// errLeadNotObject is locate's answer for a payload.lead that is there
// but not an object.
var errLeadNotObject = errors.New("payload.lead is not an object")

// locate splits an event down to payload.lead; nil when the event has no
// lead (events of other types).
func locate(value []byte) (*located, error) {
	l := &located{}
	var err error
	if l.top, err = jsoncheck.Members(value); err != nil {
		return nil, err
	}
	if l.payloadAt = memberAt(l.top, "payload"); l.payloadAt < 0 || l.top[l.payloadAt].Value.Kind() != '{' {
		return nil, nil
	}
	if l.payload, err = jsoncheck.Members(l.top[l.payloadAt].Value); err != nil {
		return nil, err
	}
	if l.leadAt = memberAt(l.payload, "lead"); l.leadAt < 0 {
		return nil, nil
	}
	if k := l.payload[l.leadAt].Value.Kind(); k != '{' {
		if k == 'n' {
			return nil, nil // null holds nothing to seal; the schema refuses it
		}
		return nil, errLeadNotObject
	}
	if l.lead, err = jsoncheck.Members(l.payload[l.leadAt].Value); err != nil {
		return nil, err
	}
	return l, nil
}

// read takes the contact's clear values; a member that is not a string
// cannot be sealed and is refused rather than passed on in the clear.
func (l *located) read() []schemas.Reason {
	var rs []schemas.Reason
	for _, f := range contactPtrs(&l.contact) {
		i := memberAt(l.lead, f.name)
		if i < 0 {
			continue
		}
		ptr := "/payload/lead/" + f.name
		v := l.lead[i].Value
		if v.Kind() != '"' {
			rs = append(rs, schemas.Reason{Code: CodeInvalidContact, Pointer: ptr, Message: f.name + " must be a string"})
			continue
		}
		*f.value = stringValue(v)
		if pii.IsCiphertext(*f.value) {
			rs = append(rs, schemas.Reason{Code: CodeSealedFromPartner, Pointer: ptr,
				Message: "a contact value must be sent in the clear: only reftrack seals"})
		}
	}
	return rs
}

// rewrite puts the (sealed) contact back, every other byte as it was.
func (l *located) rewrite() ([]byte, error) {
	for _, f := range contactPtrs(&l.contact) {
		if i := memberAt(l.lead, f.name); i >= 0 {
			l.lead[i].Value = jsontext.Value(mustJSON(*f.value))
		}
	}
	lead, err := jsoncheck.Object(l.lead)
	if err != nil {
		return nil, err
	}
	l.payload[l.leadAt].Value = lead
	payload, err := jsoncheck.Object(l.payload)
	if err != nil {
		return nil, err
	}
	l.top[l.payloadAt].Value = payload
	return jsoncheck.Object(l.top)
}

// memberAt is the index of the member named name, or -1.
func memberAt(ms []jsoncheck.Member, name string) int {
	for i, m := range ms {
		if m.Name == name {
			return i
		}
	}
	return -1
}

// topString is a top-level member's string value.
func topString(ms []jsoncheck.Member, name string) (string, bool) {
	if i := memberAt(ms, name); i >= 0 && ms[i].Value.Kind() == '"' {
		return stringValue(ms[i].Value), true
	}
	return "", false
}
