package ingest

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/ingest/auth"
	"github.com/reftrack/reftrack/ingest/reftoken"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/validation"
)

// Accepted is the 202 body: the id of every event, in request order.
type Accepted struct {
	EventIDs []string `json:"event_ids"`
}

// API serves the partner HTTP endpoints.
type API struct {
	Producer *kgo.Client // the runtime's (worker.Env.Producer)
	Topic    string      // prefixed referrals.ingested
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
	Validator *validation.Validator
	// Sealer seals the leads' contacts before produce (--pii-mode seal);
	// nil: they travel as sent.
	Sealer *Sealer
	// Tokens verifies referral tokens and signs new ones; nil: none configured.
	Tokens *reftoken.Keys
	// Rate and Burst bound events per second per partner (0: unlimited).
	Rate  float64
	Burst int
	// MaxEvents bounds the events of one request (0: unbounded).
	MaxEvents int
	// ClientRate and ClientBurst bound failed requests per second per
	// client address (0: unlimited).
	ClientRate  float64
	ClientBurst int

	once              sync.Once
	partners, clients *buckets
}

// Handler routes the API. Every answer carries the security headers, and a
// path or method no route takes gets a problem document like any refusal.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events", a.write(nil))
	mux.HandleFunc("POST /v1/referrals", a.write(typed(schemas.TypeReferralCreated, nil, false)))
	mux.HandleFunc("PATCH /v1/referrals/{id}/status", a.write(statusUpdate))
	mux.HandleFunc("POST /v1/policies", a.write(typed("", []string{schemas.TypePolicyIssued, schemas.TypePolicyCancelled}, false)))
	mux.HandleFunc("POST /v1/referral-tokens", a.postToken)
	mux.HandleFunc("GET /v1/referrals/{id}", a.getReferral)
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		writeRaw(w, http.StatusOK, schemas.OpenAPI())
	})
	return secured(a.routed(mux))
}

// writeReq is one write request as it moves through the policy.
type writeReq struct {
	r       *http.Request
	shape   shape // nil: events are taken as they are
	who     auth.Principal
	body    []byte
	n       int               // events in body
	isArray bool              // body is an array of events
	raws    []json.RawMessage // the events, shaped
	events  []Stamped
}

// step is one concern of the write path; false means it has answered.
type step func(w http.ResponseWriter, q *writeReq) bool

// write is the policy of every endpoint that takes events. The order of the
// steps is the policy: the cheap refusals come first; the client address is
// charged for failures and the partner's bucket is looked at before a byte
// of body is read; the events are counted, never built, before the batch is
// charged; the Idempotency-Key is claimed only for a request that will be
// processed, so that only its final answer is stored.
func (a *API) write(sh shape) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := &writeReq{r: r, shape: sh}
		if !a.run(w, q,
			a.authenticate, // 401, charged to the client address; 429 once it has failed too often
			a.mayWrite,     // 403 for roles that submit nothing
			a.requireJSON,  // 415
			a.partnerGate,  // 429 while the partner's bucket is empty, body unread
			a.readBody,     // 413 body_too_large, 408, 400
			a.countEvents,  // 400 malformed_json, 413 too_many_events
		) {
			return
		}
		w, finish, ok := a.claimKey(w, q) // replay, 409 in flight, 422 reused
		if !ok {
			return
		}
		defer finish()
		a.run(w, q,
			a.chargeEvents,    // 429 with Retry-After (never stored)
			a.shapeEvents,     // 422 for what this endpoint does not take
			a.stampEvents,     // 400 for events that cannot be read
			a.authorizeEvents, // 403 for another partner's events
			a.checkTokens,     // 422 for refused referral tokens
			a.checkSchemas,    // 422 on typed endpoints
			a.sealContacts,    // 422 for a contact that cannot be sealed, 503 without the key store
			a.produce,         // 202, or 503 to retry
		)
	}
}

// run applies steps in order until one answers.
func (a *API) run(w http.ResponseWriter, q *writeReq, steps ...step) bool {
	for _, s := range steps {
		if !s(w, q) {
			return false
		}
	}
	return true
}

// sealContacts seals the leads' contacts (--pii-mode seal): 422 for a
// contact that cannot be, 503 with Retry-After while the key store is
// unavailable. The event ids were derived before, so a retry keeps them.
func (a *API) sealContacts(w http.ResponseWriter, q *writeReq) bool {
	if a.Sealer == nil {
		return true
	}
	perEvent, err := a.Sealer.Seal(q.r.Context(), q.events)
	if err != nil {
		a.Log.Warn("sealing contacts failed", "events", len(q.events), "err", err)
		w.Header().Set("Retry-After", "1")
		a.problem(w, http.StatusServiceUnavailable, "unavailable", "contacts could not be sealed, retry the same request", nil)
		return false
	}
	var reasons []schemas.Reason
	for i, rs := range perEvent {
		reasons = appendAt(reasons, rs, i, q.isArray)
	}
	if len(reasons) > 0 {
		a.problem(w, http.StatusUnprocessableEntity, reasons[0].Code, "a lead's contact cannot be accepted", reasons)
		return false
	}
	return true
}
