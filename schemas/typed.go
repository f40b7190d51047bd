package schemas

import (
	"bytes"
	"errors"
	"fmt"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Event is one event of the pipeline as a stage reads it: decoded once, at
// the stage's boundary, into its envelope and its typed payload. Stages
// dispatch on Body's type, never on EventType strings, so a type the stage
// does not handle is a default case the compiler's switch makes visible.
//
// Envelope.Payload keeps the payload's bytes for the stages that must keep
// or fingerprint them as sent (sink stores them, dedupe hashes them).
type Event struct {
	Envelope
	// Body is a pointer to the payload type EventType names (see NewBody):
	// *ReferralCreated for referral.created, and so on.
	Body any
}

// Kinds of DecodeEvent errors. Each stage decides what a kind means to it:
// most dead-letter all three, dedupe passes an event whose envelope it
// could read, as it always did.
var (
	// ErrEnvelope: the record is not an event envelope. The Event is empty.
	ErrEnvelope = errors.New("not an event envelope")
	// ErrEventType: the envelope names a type the pipeline does not carry.
	// The Event has its Envelope, Body is nil.
	ErrEventType = errors.New("unknown event type")
	// ErrPayload: the payload does not decode as its type. The Event has
	// its Envelope, and Body its type's value as far as it decoded, which
	// a stage must not act on.
	ErrPayload = errors.New("payload does not decode as its type")
)

// DecodeError is what DecodeEvent returns. Its message is the decoder's
// own, so a stage that wraps it reads as it did when it decoded alone;
// errors.Is tells its Kind.
type DecodeError struct {
	Kind error // ErrEnvelope, ErrEventType or ErrPayload
	Err  error // what the decoder said
}

func (e *DecodeError) Error() string   { return e.Err.Error() }
func (e *DecodeError) Unwrap() []error { return []error{e.Kind, e.Err} }

// Pointer is the JSON pointer of what failed to decode: "" for the whole
// record, "/event_type" or "/payload".
func (e *DecodeError) Pointer() string {
	switch e.Kind {
	case ErrEventType:
		return "/event_type"
	case ErrPayload:
		return "/payload"
	}
	return ""
}

// DecodeEvent decodes a record of one of the pipeline's topics (everything
// validate and the stages after it write) into an Event. It reads JSON the
// pipeline produced (see Decode for what that allows), not a partner's raw
// bytes: those go through validate first.
//
// The payload is read once, straight into its type, when event_type comes
// before it (as every producer of the pipeline writes it); Payload then
// aliases raw, which the caller must not change while it uses the Event.
// Anything else (payload first, errors) takes the two-pass path, whose
// result the one-pass path is held to by FuzzDecodeEvent.
func DecodeEvent(raw []byte) (Event, error) {
	w := eventWire{}
	w.Payload.w = &w
	w.Payload.raw = raw
	if jsonv2.Unmarshal(raw, &w) != nil || w.Payload.late(w.EventType) != nil {
		return decodeEventTwoPass(raw)
	}
	ev := Event{Envelope: w.Envelope, Body: w.Payload.body}
	ev.Payload = w.Payload.value
	return ev, nil
}

// decodeEventTwoPass decodes the envelope, then its payload: the reference
// DecodeEvent keeps to, and its path for every record that fails.
func decodeEventTwoPass(raw []byte) (Event, error) {
	var ev Event
	if err := Decode(raw, &ev.Envelope); err != nil {
		return Event{}, &DecodeError{Kind: ErrEnvelope, Err: err}
	}
	body := NewBody(ev.EventType)
	if body == nil {
		return ev, &DecodeError{Kind: ErrEventType, Err: fmt.Errorf("unknown event type %q", ev.EventType)}
	}
	ev.Body = body
	if err := Decode(ev.Payload, body); err != nil {
		return ev, &DecodeError{Kind: ErrPayload, Err: err}
	}
	return ev, nil
}

// eventWire is a record as DecodeEvent's one pass reads it: the Envelope's
// members, decoded as Decode would (exact names, others skipped, duplicates
// refused), but for the payload, which the shallower Payload shadows.
// Any error sends the record to the two-pass path, which says what is
// wrong as Decode would, so this path only has to be right for records
// that decode.
type eventWire struct {
	Envelope
	Payload payloadReader `json:"payload"`
}

// payloadReader decodes the payload into its type when event_type came
// before it, and otherwise only finds its bytes for late. Either way value
// is the payload's bytes in raw.
type payloadReader struct {
	w     *eventWire
	raw   []byte
	value []byte
	body  any
}

func (p *payloadReader) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	start := dec.InputOffset()
	var err error
	if body := NewBody(p.w.EventType); body != nil {
		p.body = body
		err = jsonv2.UnmarshalDecode(dec, body)
	} else {
		_, err = dec.ReadValue()
	}
	if err != nil {
		return err
	}
	// InputOffset was just past the member name; the value starts after
	// the colon and any space, neither of which a value starts with.
	p.value = bytes.TrimLeft(p.raw[start:dec.InputOffset()], " \t\r\n:")
	return nil
}

var errTwoPass = errors.New("decode in two passes")

// late decodes a payload that came before event_type. It takes the type
// from its caller: a record that is JSON null zeroes the whole eventWire,
// p.w with it.
func (p *payloadReader) late(eventType string) error {
	if p.body != nil {
		return nil
	}
	body := NewBody(eventType)
	if body == nil || p.value == nil {
		return errTwoPass
	}
	p.body = body
	return Decode(p.value, body)
}

// NewBody returns a new zero payload of event type t, as a pointer, or nil
// for a type the pipeline does not carry. It is the one list of payload
// types: TestDecodeEventEveryType holds it to every Type constant.
func NewBody(t string) any {
	switch t {
	case TypeReferralCreated:
		return new(ReferralCreated)
	case TypeReferralStatusUpdated:
		return new(ReferralStatusUpdated)
	case TypePolicyIssued:
		return new(PolicyIssued)
	case TypePolicyCancelled:
		return new(PolicyCancelled)
	case TypePolicyAgentChanged:
		return new(PolicyAgentChanged)
	case TypeAttributionCalculated:
		return new(AttributionCalculated)
	case TypeAttributionCancelled:
		return new(AttributionCancelled)
	case TypeCommissionCalculated:
		return new(CommissionCalculated)
	case TypeCommissionEntry:
		return new(JournalEntry)
	case TypeAdjustmentRequested:
		return new(AdjustmentRequested)
	case TypePeriodClosed:
		return new(PeriodClosed)
	case TypeDecisionRequested:
		return new(DecisionRequested)
	}
	return nil
}
