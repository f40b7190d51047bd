package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"

	"github.com/reftrack/reftrack/schemas"
)

// An Idempotency-Key names one request: its method, path and body (the
// fingerprint). The key is claimed after the request is authenticated,
// within the partner's rate and counted, so refusals that come before it
// (401, 403 for agents, 413, 415, 429 at the gate) are never stored. Once
// claimed, only a final answer is kept: a 2xx, or a 4xx produced by
// processing the request (422, 403 for another partner's event, 400), which
// the same request would get again. A 429, 408, 409 or any 5xx frees the
// key, so the partner's retry is processed anew.

// stored is a response kept for an Idempotency-Key.
type stored struct {
	Fingerprint string          `json:"fingerprint"`
	Status      int             `json:"status"`
	ContentType string          `json:"content_type,omitempty"`
	Body        json.RawMessage `json:"body,omitempty"`
}

// claimKey claims the request's Idempotency-Key, answering itself when the
// key already holds an answer (a replay), is in flight (409) or was used
// for another request (422). It returns the writer to answer through and
// the function that stores or frees the key once answered.
func (a *API) claimKey(w http.ResponseWriter, q *writeReq) (http.ResponseWriter, func(), bool) {
	idemKey := q.r.Header.Get("Idempotency-Key")
	if idemKey == "" {
		return w, func() {}, true
	}
	if len(idemKey) > 128 || a.Redis == nil {
		a.problem(w, http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key must be at most 128 characters, and the server must keep keys", nil)
		return w, nil, false
	}
	fp := fingerprint(q.r, q.body)
	key := a.RedisPrefix + "idem-http:" + schemas.Scoped(q.who.PartnerID, q.who.Subject+"|"+idemKey)
	done, err := a.claim(q.r.Context(), key, fp)
	if err != nil {
		a.Log.Warn("idempotency store unavailable", "err", err)
		w.Header().Set("Retry-After", "1")
		a.problem(w, http.StatusServiceUnavailable, "unavailable", "idempotency store unavailable, retry", nil)
		return w, nil, false
	}
	if done != nil {
		a.answerClaimed(w, done, fp)
		return w, nil, false
	}
	rec := &recorder{ResponseWriter: w}
	return rec, func() { a.remember(q.r.Context(), key, fp, rec) }, true
}

// fingerprint is what a key must be reused with to replay: the same
// method, path (the lead is in it) and body.
func fingerprint(r *http.Request, body []byte) string {
	h := sha256.New()
	h.Write([]byte(r.Method + "\x00" + r.URL.EscapedPath() + "\x00"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// answerClaimed answers a request whose key is already claimed.
func (a *API) answerClaimed(w http.ResponseWriter, done *stored, fp string) {
	switch {
	case done.Fingerprint != fp:
		a.problem(w, http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used for another request (method, path or body)", nil)
	case done.Status == 0:
		w.Header().Set("Retry-After", "1")
		a.problem(w, http.StatusConflict, "idempotency_key_in_flight", "a request with this Idempotency-Key is still being processed", nil)
	default:
		w.Header().Set("Idempotent-Replayed", "true")
		w.Header().Set("Content-Type", done.ContentType)
		writeRaw(w, done.Status, done.Body)
	}
}

// claim reserves an idempotency key, or returns what it already holds.
func (a *API) claim(ctx context.Context, key, fp string) (*stored, error) {
	pending, _ := json.Marshal(stored{Fingerprint: fp})
	ok, err := a.Redis.SetNX(ctx, key, pending, a.IdempotencyTTL).Result()
	if err != nil || ok {
		return nil, err
	}
	b, err := a.Redis.Get(ctx, key).Bytes()
	if err != nil {
		return nil, err
	}
	var s stored
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// final says whether status is the request's answer for good, one its
// retry would get again: then it is kept for the key.
func final(status int) bool {
	switch {
	case status >= 200 && status < 300:
		return true
	case status == http.StatusRequestTimeout, status == http.StatusConflict, status == http.StatusTooManyRequests:
		return false
	}
	return status >= 400 && status < 500
}

// remember stores a final response for the key and frees the key for any
// other, so the partner's retry is processed anew.
func (a *API) remember(ctx context.Context, key, fp string, rec *recorder) {
	ctx = context.WithoutCancel(ctx)
	if !final(rec.status) {
		if err := a.Redis.Del(ctx, key).Err(); err != nil {
			a.Log.Warn("could not free an idempotency key", "err", err)
		}
		return
	}
	b, _ := json.Marshal(stored{Fingerprint: fp, Status: rec.status, ContentType: rec.Header().Get("Content-Type"), Body: rec.body})
	if err := a.Redis.Set(ctx, key, b, a.IdempotencyTTL).Err(); err != nil {
		a.Log.Warn("could not store idempotent response", "err", err)
	}
}

// recorder keeps the status and body written, for idempotent replays.
type recorder struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (r *recorder) WriteHeader(s int) { r.status = s; r.ResponseWriter.WriteHeader(s) }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body = append(r.body, b...)
	return r.ResponseWriter.Write(b)
}
