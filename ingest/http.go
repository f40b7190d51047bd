package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/time/rate"

	"github.com/reftrack/reftrack/ingest/auth"
	"github.com/reftrack/reftrack/ingest/reftoken"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/validate"
)

// Problem is an RFC 9457 problem document; Type is the stable,
// machine-readable part partners should branch on.
type Problem struct {
	Type    string           `json:"type"`
	Title   string           `json:"title"`
	Status  int              `json:"status"`
	Detail  string           `json:"detail,omitempty"`
	Reasons []schemas.Reason `json:"reasons,omitempty"`
}

// ProblemBase prefixes every problem type.
const ProblemBase = "https://reftrack.dev/problems/"

// Accepted is the 202 body: the id of every event, in request order.
type Accepted struct {
	EventIDs []string `json:"event_ids"`
}

// Producer is the slice of *kgo.Client the API needs.
type Producer interface {
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
}

// API serves the partner HTTP endpoints.
type API struct {
	Producer Producer
	Topic    string // prefixed referrals.ingested
	MaxBody  int64
	Now      func() time.Time
	Log      *slog.Logger
	Metrics  *Metrics

	// Auth verifies bearer tokens; nil only with --insecure-no-auth.
	Auth *auth.Verifier
	// Redis keeps Idempotency-Key responses; nil disables the header.
	Redis          redis.UniversalClient
	RedisPrefix    string
	IdempotencyTTL time.Duration
	// ClickHouse answers GET /v1/referrals/{id}; nil: 501.
	ClickHouse driver.Conn
	// Validator checks REST bodies against the validate stage's schemas.
	Validator *validate.Validator
	// Tokens verifies referral tokens and signs new ones; nil: none configured.
	Tokens *reftoken.Keys
	// Rate and Burst bound events per second per partner (0: unlimited).
	Rate  float64
	Burst int

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// Handler routes the API.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events", a.postEvents)
	mux.HandleFunc("POST /v1/referrals", func(w http.ResponseWriter, r *http.Request) {
		a.accept(w, r, typed(schemas.TypeReferralCreated, nil, false))
	})
	mux.HandleFunc("PATCH /v1/referrals/{id}/status", func(w http.ResponseWriter, r *http.Request) {
		a.accept(w, r, typed(schemas.TypeReferralStatusUpdated, nil, true))
	})
	mux.HandleFunc("POST /v1/policies", func(w http.ResponseWriter, r *http.Request) {
		a.accept(w, r, typed("", []string{schemas.TypePolicyIssued, schemas.TypePolicyCancelled}, false))
	})
	mux.HandleFunc("POST /v1/referral-tokens", a.postToken)
	mux.HandleFunc("GET /v1/referrals/{id}", a.getReferral)
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		writeRaw(w, http.StatusOK, schemas.OpenAPI())
	})
	return mux
}

// TokenRequest asks for a referral token.
type TokenRequest struct {
	Referrer  schemas.Referrer `json:"referrer"`
	PartnerID string           `json:"partner_id"`
	TTLHours  int              `json:"ttl_hours"`
}

// TokenResponse carries a new referral token.
type TokenResponse struct {
	Token     string    `json:"token"`
	KeyID     string    `json:"kid"`
	ExpiresAt time.Time `json:"expires_at"`
}

// postToken issues a referral token: an agent for itself, a partner for its
// own referrers, an admin for anyone.
func (a *API) postToken(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	if a.Tokens == nil {
		a.problem(w, http.StatusNotImplemented, "tokens_not_configured", "this reftrack has no referral token keys", nil)
		return
	}
	var req TokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		a.problem(w, http.StatusBadRequest, CodeMalformedJSON, err.Error(), nil)
		return
	}
	if p.Role == auth.RolePartner && req.PartnerID == "" {
		req.PartnerID = p.PartnerID
	}
	if req.TTLHours == 0 {
		req.TTLHours = 30 * 24
	}
	var reasons []schemas.Reason
	if req.Referrer.ID == "" || req.Referrer.Type == "" {
		reasons = append(reasons, schemas.Reason{Code: "missing_referrer", Pointer: "/referrer", Message: "referrer id and type are required"})
	}
	if req.PartnerID == "" {
		reasons = append(reasons, schemas.Reason{Code: "missing_partner", Pointer: "/partner_id", Message: "partner_id is required"})
	}
	if req.TTLHours < 1 || req.TTLHours > 365*24 {
		reasons = append(reasons, schemas.Reason{Code: "invalid_ttl", Pointer: "/ttl_hours", Message: "ttl_hours must be within 1..8760"})
	}
	if len(reasons) > 0 {
		a.problem(w, http.StatusUnprocessableEntity, reasons[0].Code, "the token request is incomplete", reasons)
		return
	}
	switch {
	case p.Role == auth.RoleAgent && (req.Referrer.Type != schemas.ReferrerAgent || req.Referrer.ID != p.AgentID):
		a.refuse(w, &auth.Error{Status: http.StatusForbidden, Code: auth.CodeForbidden, Detail: "an agent may only get tokens for itself"})
		return
	case p.Role == auth.RolePartner && req.PartnerID != p.PartnerID:
		a.refuse(w, &auth.Error{Status: http.StatusForbidden, Code: auth.CodeForbidden, Detail: "a partner may only get tokens for its own partner_id"})
		return
	}
	exp := a.Now().Add(time.Duration(req.TTLHours) * time.Hour).UTC().Truncate(time.Second)
	tok, err := a.Tokens.Issue(reftoken.Claims{ReferrerID: req.Referrer.ID, ReferrerType: req.Referrer.Type, PartnerID: req.PartnerID, ExpiresAt: exp.Unix()})
	if err != nil {
		a.problem(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	b, _ := json.Marshal(TokenResponse{Token: tok, KeyID: a.Tokens.Current, ExpiresAt: exp})
	w.Header().Set("Content-Type", "application/json")
	writeRaw(w, http.StatusCreated, b)
}

// stored is a response kept for an Idempotency-Key.
type stored struct {
	BodyHash    string          `json:"body_hash"`
	Status      int             `json:"status"`
	ContentType string          `json:"content_type,omitempty"`
	Body        json.RawMessage `json:"body,omitempty"`
}

func (a *API) postEvents(w http.ResponseWriter, r *http.Request) { a.accept(w, r, nil) }

// shape turns one element of a REST body into a full event (event_type,
// schema_version, lead_id from the path…); nil accepts events as they are
// and leaves their schema to the validate stage.
type shape func(r *http.Request, ev map[string]json.RawMessage) error

// typed returns a shape that sets event_type (unless allowed lists the
// types the caller may choose from) and the lead from the path.
func typed(eventType string, allowed []string, leadFromPath bool) shape {
	return func(r *http.Request, ev map[string]json.RawMessage) error {
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
			ev["lead_id"] = mustJSON(r.PathValue("id"))
		}
		return nil
	}
}

// CodeBadEventType refuses an event type an endpoint does not take.
const CodeBadEventType = "unsupported_event_type"

func (a *API) accept(w http.ResponseWriter, r *http.Request, sh shape) {
	principal, ok := a.principal(w, r)
	if !ok {
		return
	}
	if principal.Role == auth.RoleAgent {
		a.refuse(w, principal.CanWriteFor(""))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		a.problem(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json", nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.problem(w, http.StatusRequestEntityTooLarge, "body_too_large", err.Error(), nil)
			return
		}
		a.problem(w, http.StatusBadRequest, "unreadable_body", err.Error(), nil)
		return
	}
	idemKey := r.Header.Get("Idempotency-Key")
	if idemKey != "" {
		if len(idemKey) > 128 || a.Redis == nil {
			a.problem(w, http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key must be at most 128 characters, and the server must keep keys", nil)
			return
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])
		key := a.RedisPrefix + "idem-http:" + principal.PartnerID + "|" + principal.Subject + "|" + idemKey
		done, err := a.claim(r.Context(), key, hash)
		if err != nil {
			a.Log.Warn("idempotency store unavailable", "err", err)
			w.Header().Set("Retry-After", "1")
			a.problem(w, http.StatusServiceUnavailable, "unavailable", "idempotency store unavailable, retry", nil)
			return
		}
		if done != nil {
			switch {
			case done.BodyHash != hash:
				a.problem(w, http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used with a different body", nil)
			case done.Status == 0:
				w.Header().Set("Retry-After", "1")
				a.problem(w, http.StatusConflict, "idempotency_key_in_flight", "a request with this Idempotency-Key is still being processed", nil)
			default:
				w.Header().Set("Idempotent-Replayed", "true")
				w.Header().Set("Content-Type", done.ContentType)
				writeRaw(w, done.Status, done.Body)
			}
			return
		}
		// Whatever happens next is recorded for the key: a retry gets the
		// same answer without producing anything a second time.
		rec := &recorder{ResponseWriter: w}
		w = rec
		defer a.remember(r.Context(), key, hash, rec)
	}
	events, isArray, err := SplitBody(body)
	if err == nil && sh != nil {
		var rej *worker.RejectError
		if err = reshape(r, events, isArray, sh); errors.As(err, &rej) {
			a.problem(w, http.StatusUnprocessableEntity, rej.Reasons[0].Code, "this endpoint does not take these events", rej.Reasons)
			return
		}
	}
	var stamped []Stamped
	if err == nil {
		stamped, err = StampAll(events, a.Now(), isArray, principal.PartnerID)
	}
	var rej *worker.RejectError
	switch {
	case errors.As(err, &rej):
		a.problem(w, http.StatusBadRequest, rej.Reasons[0].Code, "the request holds events reftrack cannot read", rej.Reasons)
		return
	case err != nil:
		a.problem(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	for _, s := range stamped {
		if err := principal.CanWriteFor(s.PartnerID); err != nil {
			a.refuse(w, err)
			return
		}
	}
	var reasons []schemas.Reason
	for i, s := range stamped {
		if err := CheckReferralToken(a.Tokens, s, a.Now()); errors.As(err, &rej) {
			reasons = appendAt(reasons, rej.Reasons, i, isArray)
		}
	}
	if len(reasons) > 0 {
		a.problem(w, http.StatusUnprocessableEntity, reasons[0].Code, "a referral token was refused", reasons)
		return
	}
	if sh != nil && a.Validator != nil {
		// The same schemas and normalization as the validate stage, so the
		// REST API and the Kafka path can never disagree.
		for i, s := range stamped {
			_, _, rs := a.Validator.Check(s.Value)
			reasons = appendAt(reasons, rs, i, isArray)
		}
		if len(reasons) > 0 {
			a.problem(w, http.StatusUnprocessableEntity, reasons[0].Code, "events do not satisfy their schema", reasons)
			return
		}
	}
	if wait, ok := a.allow(principal, len(stamped)); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		a.problem(w, http.StatusTooManyRequests, "rate_limited", "too many events for this partner; retry after the given seconds", nil)
		return
	}
	a.produce(w, r, stamped)
}

// reshape applies sh to every element, keeping all failures.
func reshape(r *http.Request, events []json.RawMessage, isArray bool, sh shape) error {
	var reasons []schemas.Reason
	for i, raw := range events {
		var ev map[string]json.RawMessage
		if json.Unmarshal(raw, &ev) != nil || ev == nil {
			continue // StampAll reports it
		}
		if err := sh(r, ev); err != nil {
			var rej *worker.RejectError
			if !errors.As(err, &rej) {
				return err
			}
			for _, rs := range rej.Reasons {
				if isArray {
					rs.Pointer = "/" + strconv.Itoa(i) + rs.Pointer
				}
				reasons = append(reasons, rs)
			}
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

// claim reserves an idempotency key, or returns what it already holds.
func (a *API) claim(ctx context.Context, key, hash string) (*stored, error) {
	pending, _ := json.Marshal(stored{BodyHash: hash})
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

// remember stores the response for the key; a 5xx frees the key instead,
// so the partner's retry is processed anew.
func (a *API) remember(ctx context.Context, key, hash string, rec *recorder) {
	ctx = context.WithoutCancel(ctx)
	if rec.status >= 500 {
		a.Redis.Del(ctx, key)
		return
	}
	b, _ := json.Marshal(stored{BodyHash: hash, Status: rec.status, ContentType: rec.Header().Get("Content-Type"), Body: rec.body})
	if err := a.Redis.Set(ctx, key, b, a.IdempotencyTTL).Err(); err != nil {
		a.Log.Warn("could not store idempotent response", "err", err)
	}
}

// allow takes n events from the caller's token bucket.
func (a *API) allow(p auth.Principal, n int) (time.Duration, bool) {
	if a.Rate <= 0 {
		return 0, true
	}
	id := p.PartnerID
	if id == "" {
		id = p.Role + ":" + p.Subject
	}
	a.mu.Lock()
	if a.limiters == nil {
		a.limiters = map[string]*rate.Limiter{}
	}
	l := a.limiters[id]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(a.Rate), a.Burst)
		a.limiters[id] = l
	}
	a.mu.Unlock()
	now := a.Now()
	res := l.ReserveN(now, n)
	if !res.OK() {
		return time.Duration(float64(n) / a.Rate * float64(time.Second)), false
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

func (a *API) produce(w http.ResponseWriter, r *http.Request, stamped []Stamped) {
	recs := make([]*kgo.Record, len(stamped))
	ids := make([]string, len(stamped))
	for i, s := range stamped {
		recs[i] = &kgo.Record{Topic: a.Topic, Key: s.Key, Value: s.Value}
		ids[i] = s.EventID
	}
	if err := a.Producer.ProduceSync(r.Context(), recs...).FirstErr(); err != nil {
		// Some records may have landed; the partner retries the same bytes,
		// which get the same event ids, and dedupe drops the copies.
		a.Log.Warn("produce failed", "events", len(recs), "err", err)
		w.Header().Set("Retry-After", "1")
		a.problem(w, http.StatusServiceUnavailable, "unavailable", "events could not be stored, retry the same request", nil)
		return
	}
	a.Metrics.accepted.Add(float64(len(recs)))
	a.Metrics.requests.WithLabelValues("202").Inc()
	b, _ := json.Marshal(Accepted{EventIDs: ids})
	w.Header().Set("Content-Type", "application/json")
	writeRaw(w, http.StatusAccepted, b)
}

// principal authenticates the request, answering 401 itself when it fails.
// Without a verifier (--insecure-no-auth) every caller is an admin.
func (a *API) principal(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	if a.Auth == nil {
		return auth.Principal{Role: auth.RoleAdmin, Subject: "anonymous"}, true
	}
	p, err := a.Auth.Verify(r.Header.Get("Authorization"))
	if err != nil {
		a.refuse(w, err)
		return p, false
	}
	return p, true
}

func (a *API) refuse(w http.ResponseWriter, err error) {
	var ae *auth.Error
	if !errors.As(err, &ae) {
		a.problem(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="reftrack"`)
	}
	a.problem(w, ae.Status, ae.Code, ae.Detail, nil)
}

func (a *API) problem(w http.ResponseWriter, status int, typ, detail string, reasons []schemas.Reason) {
	a.Metrics.requests.WithLabelValues(strconv.Itoa(status)).Inc()
	b, _ := json.Marshal(Problem{Type: ProblemBase + typ, Title: http.StatusText(status), Status: status, Detail: detail, Reasons: reasons})
	w.Header().Set("Content-Type", "application/problem+json")
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client may be gone; nothing to do then
}

// recorder keeps the status and body written, for idempotent replays.
type recorder struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (r *recorder) WriteHeader(s int) { r.status = s; r.ResponseWriter.WriteHeader(s) }
func (r *recorder) Write(b []byte) (int, error) {
	r.body = append(r.body, b...)
	return r.ResponseWriter.Write(b)
}
