package ingest

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/reftrack/reftrack/ingest/auth"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// shape turns one element of a REST body into a full event (event_type,
// schema_version, lead_id from the path…); nil accepts events as they are
// and leaves their schema to the validate stage.
type shape func(c shapeCtx, ev map[string]json.RawMessage) error

// shapeCtx is what a shape may read besides the element.
type shapeCtx struct {
	r   *http.Request
	who auth.Principal
	now time.Time
	raw []byte // the element as the partner sent it
}

// CodeBadEventType refuses an event type an endpoint does not take.
const CodeBadEventType = "unsupported_event_type"

// typed returns a shape that sets event_type (unless allowed lists the
// types the caller may choose from) and the lead from the path.
func typed(eventType string, allowed []string, leadFromPath bool) shape {
	return func(c shapeCtx, ev map[string]json.RawMessage) error {
		if allowed != nil {
			var t string
			_ = json.Unmarshal(ev["event_type"], &t)
			if !slices.Contains(allowed, t) {
				return worker.Reject(CodeBadEventType, "/event_type", "event_type must be one of %v", allowed)
			}
		} else {
			ev["event_type"] = mustJSON(eventType)
		}
		if _, ok := ev["schema_version"]; !ok {
			ev["schema_version"] = json.RawMessage("1")
		}
		if leadFromPath {
			ev["lead_id"] = mustJSON(c.r.PathValue("id"))
		}
		return nil
	}
}

// statusUpdate shapes PATCH /v1/referrals/{id}/status: the small body a
// partner expects ({"status", "reason"}) or the full envelope.
func statusUpdate(c shapeCtx, ev map[string]json.RawMessage) error {
	if _, hasStatus := ev["status"]; hasStatus {
		if _, hasPayload := ev["payload"]; !hasPayload {
			if err := expandStatus(c, ev); err != nil {
				return err
			}
		}
	}
	return typed(schemas.TypeReferralStatusUpdated, nil, true)(c, ev)
}

// smallStatusMembers are what the small status body may hold.
var smallStatusMembers = []string{"status", "reason", "occurred_at", "idempotency_key", "partner_id", "event_id"}

// expandStatus turns the small status body into an envelope: status and
// reason move into the payload, the partner comes from the token (an admin
// names it), occurred_at defaults to now. Without an event_id, the id is
// derived from the partner, the lead and the bytes sent, not from the
// filled-in clock, so a retry of the same body is the same event.
func expandStatus(c shapeCtx, ev map[string]json.RawMessage) error {
	var reasons []schemas.Reason
	for name := range ev {
		if !slices.Contains(smallStatusMembers, name) {
			reasons = append(reasons, schemas.Reason{Code: "unknown_member", Pointer: "/" + pointerEscape(name),
				Message: "the status body takes " + strings.Join(smallStatusMembers, ", ")})
		}
	}
	partner := c.who.PartnerID
	if raw, ok := ev["partner_id"]; ok {
		_ = json.Unmarshal(raw, &partner) // a non-string is the schema's to refuse
	} else if partner == "" {
		reasons = append(reasons, schemas.Reason{Code: "missing_partner", Pointer: "/partner_id", Message: "partner_id is required of a caller that is not a partner"})
	}
	if len(reasons) > 0 {
		slices.SortFunc(reasons, func(a, b schemas.Reason) int { return strings.Compare(a.Pointer, b.Pointer) })
		return &worker.RejectError{Reasons: reasons}
	}
	payload := map[string]json.RawMessage{"status": ev["status"]}
	if r, ok := ev["reason"]; ok {
		payload["reason"] = r
	}
	ev["payload"], _ = json.Marshal(payload) // raw messages already parsed
	delete(ev, "status")
	delete(ev, "reason")
	ev["partner_id"] = mustJSON(partner)
	if _, ok := ev["occurred_at"]; !ok {
		ev["occurred_at"] = mustJSON(c.now.UTC().Format(time.RFC3339Nano))
	}
	if _, ok := ev["event_id"]; !ok {
		lead := c.r.PathValue("id")
		ev["event_id"] = mustJSON(DeriveEventID(partner, append([]byte("status\x00"+lead+"\x00"), c.raw...)))
	}
	return nil
}

// pointerEscape escapes a member name for a JSON pointer (RFC 6901).
func pointerEscape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// shapeEvents splits the body and applies the endpoint's shape.
func (a *API) shapeEvents(w http.ResponseWriter, q *writeReq) bool {
	events, _, err := SplitBody(q.body)
	if err != nil {
		a.unreadable(w, q, err)
		return false
	}
	if q.shape != nil {
		err = reshape(shapeCtx{r: q.r, who: q.who, now: a.Now()}, events, q.isArray, q.shape)
	}
	var rej *worker.RejectError
	switch {
	case errors.As(err, &rej):
		a.problem(w, http.StatusUnprocessableEntity, rej.Reasons[0].Code, "this endpoint does not take these events", rej.Reasons)
		return false
	case err != nil:
		a.internal(w, q.r, err)
		return false
	}
	q.raws = events
	return true
}

// unreadable answers 400 for events ingest cannot read.
func (a *API) unreadable(w http.ResponseWriter, q *writeReq, err error) {
	var rej *worker.RejectError
	if !errors.As(err, &rej) {
		a.internal(w, q.r, err)
		return
	}
	a.problem(w, http.StatusBadRequest, rej.Reasons[0].Code, "the request holds events reftrack cannot read", rej.Reasons)
}

// reshape applies sh to every element, keeping all failures.
func reshape(c shapeCtx, events []json.RawMessage, isArray bool, sh shape) error {
	var reasons []schemas.Reason
	for i, raw := range events {
		var ev map[string]json.RawMessage
		if json.Unmarshal(raw, &ev) != nil || ev == nil {
			continue // StampAll reports it
		}
		c.raw = raw
		if err := sh(c, ev); err != nil {
			var rej *worker.RejectError
			if !errors.As(err, &rej) {
				return err
			}
			reasons = appendAt(reasons, rej.Reasons, i, isArray)
			continue
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		events[i] = b
	}
	if len(reasons) > 0 {
		return &worker.RejectError{Reasons: reasons}
	}
	return nil
}

// stampEvents stamps every event, the partner filled in from the token.
func (a *API) stampEvents(w http.ResponseWriter, q *writeReq) bool {
	stamped, err := StampAll(q.raws, a.Now(), q.isArray, q.who.PartnerID)
	if err != nil {
		a.unreadable(w, q, err)
		return false
	}
	q.events = stamped
	return true
}

// checkTokens verifies the referral tokens events carry.
func (a *API) checkTokens(w http.ResponseWriter, q *writeReq) bool {
	var reasons []schemas.Reason
	for i, s := range q.events {
		var rej *worker.RejectError
		if err := CheckReferralToken(a.Tokens, s, a.Now()); errors.As(err, &rej) {
			reasons = appendAt(reasons, rej.Reasons, i, q.isArray)
		}
	}
	if len(reasons) > 0 {
		a.problem(w, http.StatusUnprocessableEntity, reasons[0].Code, "a referral token was refused", reasons)
		return false
	}
	return true
}

// checkSchemas runs the validate stage's schemas and normalization on the
// typed endpoints, so the REST API and the Kafka path never disagree.
func (a *API) checkSchemas(w http.ResponseWriter, q *writeReq) bool {
	if q.shape == nil || a.Validator == nil {
		return true
	}
	var reasons []schemas.Reason
	for i, s := range q.events {
		_, _, rs := a.Validator.Check(s.Value)
		reasons = appendAt(reasons, rs, i, q.isArray)
	}
	if len(reasons) > 0 {
		a.problem(w, http.StatusUnprocessableEntity, reasons[0].Code, "events do not satisfy their schema", reasons)
		return false
	}
	return true
}
