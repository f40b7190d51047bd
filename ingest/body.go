package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/reftrack/reftrack/internal/worker"
)

// requireJSON refuses bodies that do not say they are JSON (415).
func (a *API) requireJSON(w http.ResponseWriter, q *writeReq) bool {
	if isJSON(q.r) {
		return true
	}
	a.failed(q.r)
	a.problem(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json", nil)
	return false
}

func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// readBody reads at most MaxBody bytes, within the server's read deadline.
func (a *API) readBody(w http.ResponseWriter, q *writeReq) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, q.r.Body, a.MaxBody))
	if err == nil {
		q.body = body
		return true
	}
	a.failed(q.r)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		a.problem(w, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("the body is larger than %d bytes", a.MaxBody), nil)
	case errors.Is(err, os.ErrDeadlineExceeded):
		a.problem(w, http.StatusRequestTimeout, "body_timeout", "the body did not arrive in time", nil)
	default:
		a.Log.Debug("unreadable body", "err", err)
		a.problem(w, http.StatusBadRequest, "unreadable_body", "the body could not be read", nil)
	}
	return false
}

// countEvents counts the body's events without building them and refuses
// a batch larger than the API takes, before any element is decoded.
func (a *API) countEvents(w http.ResponseWriter, q *writeReq) bool {
	limit := a.maxEvents()
	n, isArray, err := CountEvents(q.body, limit)
	var rej *worker.RejectError
	switch {
	case errors.As(err, &rej):
		a.failed(q.r)
		a.problem(w, http.StatusBadRequest, rej.Reasons[0].Code, "the request holds events reftrack cannot read", rej.Reasons)
		return false
	case err != nil:
		a.internal(w, q.r, err)
		return false
	case n > limit:
		a.failed(q.r)
		a.tooMany(w, limit)
		return false
	}
	q.n, q.isArray = n, isArray
	return true
}

// CountEvents counts the events of a body, one JSON value or the elements
// of a top-level array, by skipping over them: nothing is built, so a huge
// batch costs one pass and no memory. It stops once past limit and reports
// limit+1. Only syntax is checked; what an element holds is StampFor's.
func CountEvents(body []byte, limit int) (n int, isArray bool, err error) {
	d := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if d.PeekKind() != '[' {
		if err := d.SkipValue(); err != nil {
			return 0, false, malformedBody(err)
		}
		return 1, false, atEnd(d)
	}
	if _, err := d.ReadToken(); err != nil {
		return 0, true, malformedBody(err)
	}
	for d.PeekKind() != ']' {
		if err := d.SkipValue(); err != nil {
			return 0, true, malformedBody(err)
		}
		if n++; n > limit {
			return n, true, nil
		}
	}
	if _, err := d.ReadToken(); err != nil {
		return 0, true, malformedBody(err)
	}
	if n == 0 {
		return 0, true, worker.Reject(CodeMalformedJSON, "", "empty array")
	}
	return n, true, atEnd(d)
}

// atEnd refuses anything after the body's one value.
func atEnd(d *jsontext.Decoder) error {
	if _, err := d.ReadToken(); !errors.Is(err, io.EOF) {
		return worker.Reject(CodeMalformedJSON, "", "the body holds more than one JSON value")
	}
	return nil
}

func malformedBody(err error) error {
	if errors.Is(err, io.EOF) {
		return worker.Reject(CodeMalformedJSON, "", "empty body")
	}
	return worker.Reject(CodeMalformedJSON, "", "%s", notJSON("the body", err))
}
