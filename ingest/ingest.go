package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"

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
// after an aborted transaction identical. The record key is the
// tenant-scoped lead, schemas.LeadKey.
func Stamp(raw []byte, now time.Time) (Stamped, error) {
	return StampFor(raw, now, "")
}

// StampFor is Stamp that also fills partner_id with partner when the event
// has none: a partner calling the API need not repeat who it is. A derived
// event_id is computed once the partner is known and includes it, so two
// partners sending the same bytes get two ids.
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
		return Stamped{}, worker.Reject(CodeMalformedJSON, "", "%s", notJSON("the event", err))
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
	if !hasPartner && partner != "" {
		partnerID = partner
		out = append(out, stringMember("partner_id", partner))
	}
	if !hasID {
		id = DeriveEventID(partnerID, raw)
		out = append(out, stringMember("event_id", id))
	}
	out = append(out, stringMember("received_at", now.UTC().Format(time.RFC3339Nano)))
	value, err := jsoncheck.Object(out)
	if err != nil {
		return Stamped{}, worker.Reject(CodeMalformedJSON, "", "a member name is not valid UTF-8")
	}
	if key == "" {
		key = id // validate rejects it anyway; keep it on a stable partition
	}
	return Stamped{EventID: id, EventType: eventType, PartnerID: partnerID, Key: schemas.LeadKey(partnerID, key), Value: value}, nil
}

// DeriveEventID is the UUIDv5 of an event that came without an id: of its
// partner and its bytes, length-prefixed so no partner id and byte string
// can pose as another pair. The same bytes retried by one partner keep
// their id (dedupe drops the copy); another partner's copy is its own.
func DeriveEventID(partnerID string, raw []byte) string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(partnerID)))
	h.Write(n[:])
	h.Write([]byte(partnerID))
	h.Write(raw)
	return uuid.NewSHA1(eventIDSpace, h.Sum(nil)).String()
}

// notJSON words a syntax error for a partner: where, not the decoder's
// message, which may change with the library.
func notJSON(what string, err error) string {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s is not valid JSON (at byte %d)", what, se.ByteOffset)
	}
	return what + " is not valid JSON"
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
		return nil, true, worker.Reject(CodeMalformedJSON, "", "the body is not a valid JSON array")
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
