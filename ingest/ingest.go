package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"

	"github.com/reftrack/reftrack/ingest/reftoken"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/jsoncheck"
)

// Reason codes for events ingest cannot accept.
const (
	CodeMalformedJSON = "malformed_json"
	CodeNotObject     = "not_an_object"
	CodeBadEventID    = "invalid_event_id"
)

// eventIDSpace namespaces the UUIDv5 ids derived from event bytes.
var eventIDSpace = uuid.MustParse("5c0f6f0e-7d4b-4c59-9a53-2a1f0c5f7e21")

// Stamped is an event ready for referrals.ingested.
type Stamped struct {
	EventID   string
	EventType string // "" if absent or not a string
	PartnerID string // as the event states it (or as filled in); "" if absent or not a string
	Key       []byte
	Value     []byte
}

// Stamp sets received_at and, if absent, event_id on one raw event. It is
// deterministic for given bytes and clock, which keeps Kafka-path replays
// after an aborted transaction identical.
func Stamp(raw []byte, now time.Time) (Stamped, error) {
	return StampFor(raw, now, "")
}

// StampFor is Stamp that also fills partner_id with partner when the event
// has none: a partner calling the API need not repeat who it is.
func StampFor(raw []byte, now time.Time, partner string) (Stamped, error) {
	members, err := jsoncheck.Members(raw)
	var jerr *jsoncheck.Error
	var noe *jsoncheck.NotObjectError
	switch {
	case errors.As(err, &jerr):
		return Stamped{}, worker.Reject(jerr.Code, jerr.Pointer, "%s", jerr.Message)
	case errors.As(err, &noe):
		return Stamped{}, worker.Reject(CodeNotObject, "", "an event must be a JSON object, got %s", noe.Kind)
	case err != nil:
		return Stamped{}, worker.Reject(CodeMalformedJSON, "", "%v", err)
	}
	// The event is copied member by member, in its own order, with
	// received_at replaced and the missing ids added: no re-encoding.
	var id, eventType, partnerID, key string
	hasID, hasPartner := false, false
	out := make([]jsoncheck.Member, 0, len(members)+3)
	for _, m := range members {
		switch m.Name {
		case "received_at":
			continue
		case "event_id":
			hasID = true
			if id = stringValue(m.Value); id == "" {
				return Stamped{}, worker.Reject(CodeBadEventID, "/event_id", "event_id must be a non-empty string")
			}
		case "partner_id":
			hasPartner = true
			partnerID = stringValue(m.Value) // a non-string is validate's to reject
		case "lead_id":
			key = stringValue(m.Value)
		case "event_type":
			eventType = stringValue(m.Value)
		}
		out = append(out, m)
	}
	if !hasID {
		sum := sha256.Sum256(raw)
		id = uuid.NewSHA1(eventIDSpace, sum[:]).String()
		out = append(out, stringMember("event_id", id))
	}
	if !hasPartner && partner != "" {
		partnerID = partner
		out = append(out, stringMember("partner_id", partner))
	}
	out = append(out, stringMember("received_at", now.UTC().Format(time.RFC3339Nano)))
	value, err := jsoncheck.Object(out)
	if err != nil {
		return Stamped{}, worker.Reject(CodeMalformedJSON, "", "re-encode event: %v", err)
	}
	if key == "" {
		key = id // validate rejects it anyway; keep it on a stable partition
	}
	return Stamped{EventID: id, EventType: eventType, PartnerID: partnerID, Key: []byte(key), Value: value}, nil
}

// stringValue is the string a JSON value holds, or "" for any other kind.
func stringValue(v jsontext.Value) string {
	if v.Kind() != '"' {
		return ""
	}
	s, err := jsontext.AppendUnquote(nil, v)
	if err != nil {
		return ""
	}
	return string(s)
}

func stringMember(name, value string) jsoncheck.Member {
	return jsoncheck.Member{Name: name, Value: jsontext.Value(mustJSON(value))}
}

func mustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always encodes
	return b
}

// Inbound is the Kafka path: referrals.inbound → referrals.ingested.
type Inbound struct {
	Now    func() time.Time
	Tokens *reftoken.Keys
}

// Process implements worker.Func.
func (in *Inbound) Process(_ context.Context, m worker.Message) ([]worker.Output, error) {
	now := in.Now()
	s, err := Stamp(m.Value, now)
	if err != nil {
		return nil, err
	}
	if err := CheckReferralToken(in.Tokens, s, now); err != nil {
		return nil, err
	}
	return []worker.Output{{Topic: schemas.TopicIngested, Key: s.Key, Value: s.Value}}, nil
}

// SplitBody turns an HTTP body into raw events: one object, or an array of
// objects. The array is checked whole before anything is produced, so a
// partner never has to guess which half of a batch landed.
func SplitBody(body []byte) (events []json.RawMessage, isArray bool, err error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, false, worker.Reject(CodeMalformedJSON, "", "empty body")
	}
	if trimmed[0] != '[' {
		return []json.RawMessage{body}, false, nil
	}
	if err := json.Unmarshal(body, &events); err != nil {
		return nil, true, worker.Reject(CodeMalformedJSON, "", "%v", err)
	}
	if len(events) == 0 {
		return nil, true, worker.Reject(CodeMalformedJSON, "", "empty array")
	}
	return events, true, nil
}

// appendAt appends the reasons of a request's element i, their pointers
// prefixed with the index when the request was an array.
func appendAt(dst, reasons []schemas.Reason, i int, array bool) []schemas.Reason {
	for _, r := range reasons {
		if array {
			r.Pointer = "/" + strconv.Itoa(i) + r.Pointer
		}
		dst = append(dst, r)
	}
	return dst
}

// StampAll stamps every event of a request; any failure rejects the request
// with the failing element's index in the pointer.
func StampAll(events []json.RawMessage, now time.Time, array bool, partner string) ([]Stamped, error) {
	out := make([]Stamped, 0, len(events))
	var reasons []schemas.Reason
	for i, raw := range events {
		s, err := StampFor(raw, now, partner)
		if err != nil {
			var rej *worker.RejectError
			if !errors.As(err, &rej) {
				return nil, err
			}
			reasons = appendAt(reasons, rej.Reasons, i, array)
			continue
		}
		out = append(out, s)
	}
	if len(reasons) > 0 {
		return nil, &worker.RejectError{Reasons: reasons}
	}
	return out, nil
}
