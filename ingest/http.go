package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
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
}

// Handler routes the API.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events", a.postEvents)
	return mux
}

func (a *API) postEvents(w http.ResponseWriter, r *http.Request) {
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
	events, isArray, err := SplitBody(body)
	if err == nil {
		var stamped []Stamped
		stamped, err = StampAll(events, a.Now(), isArray)
		if err == nil {
			a.produce(w, r, stamped)
			return
		}
	}
	var rej *worker.RejectError
	if errors.As(err, &rej) {
		a.problem(w, http.StatusBadRequest, rej.Reasons[0].Code, "the request holds events reftrack cannot read", rej.Reasons)
		return
	}
	a.problem(w, http.StatusInternalServerError, "internal", err.Error(), nil)
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
	writeJSON(w, http.StatusAccepted, "application/json", Accepted{EventIDs: ids})
}

func (a *API) problem(w http.ResponseWriter, status int, typ, detail string, reasons []schemas.Reason) {
	a.Metrics.requests.WithLabelValues(http.StatusText(status)).Inc()
	writeJSON(w, status, "application/problem+json", Problem{
		Type: "https://reftrack.dev/problems/" + typ, Title: http.StatusText(status), Status: status, Detail: detail, Reasons: reasons,
	})
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do then
}
