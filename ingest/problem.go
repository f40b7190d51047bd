package ingest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/reftrack/reftrack/ingest/auth"
	"github.com/reftrack/reftrack/schemas"
)

// Problem is an RFC 9457 problem document; Type is the stable,
// machine-readable part partners should branch on. Detail and reason
// messages are reftrack's own wording: a library's error text is logged,
// never sent, so it can neither leak internals nor change under partners.
type Problem struct {
	Type    string           `json:"type"`
	Title   string           `json:"title"`
	Status  int              `json:"status"`
	Detail  string           `json:"detail,omitempty"`
	Reasons []schemas.Reason `json:"reasons,omitempty"`
}

// ProblemBase prefixes every problem type.
const ProblemBase = "https://reftrack.dev/problems/"

// Problem codes of the HTTP edge.
const (
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooManyEvents    = "too_many_events"
	CodeBodyTooLarge     = "body_too_large"
	CodeRateLimited      = "rate_limited"
)

func (a *API) problem(w http.ResponseWriter, status int, typ, detail string, reasons []schemas.Reason) {
	a.Metrics.requests.WithLabelValues(strconv.Itoa(status)).Inc()
	b, _ := json.Marshal(Problem{Type: ProblemBase + typ, Title: http.StatusText(status), Status: status, Detail: detail, Reasons: reasons})
	w.Header().Set("Content-Type", "application/problem+json")
	writeRaw(w, status, b)
}

// internal answers 500 for err, which is logged and not shown.
func (a *API) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	a.problem(w, http.StatusInternalServerError, "internal", "internal error; the request may be retried", nil)
}

// refuse answers an authentication or authorization refusal.
func (a *API) refuse(w http.ResponseWriter, err error) {
	var ae *auth.Error
	if !errors.As(err, &ae) {
		a.Log.Error("refusal without a status", "err", err)
		a.problem(w, http.StatusInternalServerError, "internal", "internal error; the request may be retried", nil)
		return
	}
	if ae.Err != nil {
		a.Log.Debug("request refused", "code", ae.Code, "err", ae.Err)
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="reftrack"`)
	}
	a.problem(w, ae.Status, ae.Code, ae.Detail, nil)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client may be gone; nothing to do then
}

// secured sets the headers every API answer carries: nothing is sniffed
// into another type, nothing (tokens, lead data) is cached by a proxy.
func secured(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// routed answers what mux does not route (404, 405) as a problem document,
// keeping the mux's status and Allow header; redirects pass as they are.
func (a *API) routed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &unrouted{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusNotFound:
			a.problem(w, rec.status, CodeNotFound, "no such resource", nil)
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			a.problem(w, rec.status, CodeMethodNotAllowed, "this resource does not take "+r.Method, nil)
		default:
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			writeRaw(w, rec.status, rec.body)
		}
	})
}

// unrouted captures the mux's own answer for a request it does not route.
type unrouted struct {
	header http.Header
	status int
	body   []byte
}

func (u *unrouted) Header() http.Header { return u.header }
func (u *unrouted) WriteHeader(s int)   { u.status = s }
func (u *unrouted) Write(b []byte) (int, error) {
	if u.status == 0 {
		u.status = http.StatusOK
	}
	u.body = append(u.body, b...)
	return len(b), nil
}
