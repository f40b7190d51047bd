// Package payout delivers commission statements to a payout system over a
// webhook. Each request is signed with HMAC-SHA256 over a timestamp and the
// body (header Reftrack-Signature: t=<unix seconds>,v1=<hex>), so the
// receiver can check who sent it and refuse a captured request replayed
// later; Reftrack-Delivery-Id is the same for every delivery of one
// statement, so a retry is recognisably the same payout, never a second one.
package payout

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/reftrack/reftrack/commission/statement"
)

// Header names.
const (
	SignatureHeader  = "Reftrack-Signature"
	DeliveryIDHeader = "Reftrack-Delivery-Id"
)

// Errors of Verify.
var (
	ErrMalformed    = errors.New("malformed signature header")
	ErrBadSignature = errors.New("signature does not match")
	ErrStale        = errors.New("timestamp outside the tolerance")
)

// Sign returns the signature header value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a signature header for body at now, for receivers (and
// reftrack's own tests): the MAC in constant time, and the timestamp within
// tolerance either way, so a captured request cannot be replayed later.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(part, "=")
		switch {
		case !ok:
			return ErrMalformed
		case k == "t" && ts == "":
			ts = v
		case k == "v1" && sig == "":
			sig = v
		default:
			return ErrMalformed
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ts != strconv.FormatInt(sec, 10) {
		return ErrMalformed
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size || sig != hex.EncodeToString(got) { // one spelling: lower case
		return ErrMalformed
	}
	if !hmac.Equal(got, mac(secret, ts, body)) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}

var deliverySpace = uuid.MustParse("8d1d7f2e-3b0a-4f6c-9a51-6f2e1c0b7d44")

// DeliveryID names one statement: payee, currency, accounting period and
// statement number, never its total. A re-run of a closed period is the
// same statement (a closed period never changes) and so the same id, which
// a payout system deduplicating by id pays once; a late correction posts
// in the next open period, so it is paid with that period's statement.
// Had the total been part of the id, a re-run after a correction would be
// a new id and be paid a second time. The partner is part of it (payee ids
// are the partner's); a statement without one keeps the id it had before
// statements were per partner (LegacyDeliveryID).
func DeliveryID(s statement.Statement) string {
	if s.PartnerID == "" {
		return LegacyDeliveryID(s)
	}
	key := strings.Join([]string{"partner", s.PartnerID, s.PayeeType, s.PayeeID, s.Currency, s.Period, strconv.Itoa(s.Number)}, "\x00")
	return uuid.NewSHA1(deliverySpace, []byte(key)).String()
}

// LegacyDeliveryID is the id of a statement of every partner's entries of
// a payee id, as statements were before they were per partner.
func LegacyDeliveryID(s statement.Statement) string {
	key := strings.Join([]string{s.PayeeType, s.PayeeID, s.Currency, s.Period, strconv.Itoa(s.Number)}, "\x00")
	return uuid.NewSHA1(deliverySpace, []byte(key)).String()
}

// Client delivers statements to one webhook URL.
type Client struct {
	URL      string
	Secret   []byte
	HTTP     *http.Client
	Now      func() time.Time
	Attempts int           // per statement, at least 1
	Backoff  time.Duration // before the second attempt; doubles after
}

// PermanentError is a refusal by the receiver (a 4xx): retrying would not help.
type PermanentError struct {
	Status int
	Body   string
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("payout system refused the statement: %d %s", e.Status, e.Body)
}

// Deliver posts one statement, retrying network errors and 5xx answers.
// Every attempt is signed afresh (its own timestamp) with the same delivery id.
func (c *Client) Deliver(ctx context.Context, s statement.Statement) error {
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode statement: %w", err)
	}
	id := DeliveryID(s)
	wait := c.Backoff
	var last error
	for attempt := 1; attempt <= max(c.Attempts, 1); attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
		last = c.post(ctx, id, body)
		var perm *PermanentError
		if last == nil || errors.As(last, &perm) {
			return last
		}
	}
	return fmt.Errorf("deliver statement %s after %d attempts: %w", id, max(c.Attempts, 1), last)
}

func (c *Client) post(ctx context.Context, id string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return &PermanentError{Body: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(DeliveryIDHeader, id)
	req.Header.Set(SignatureHeader, Sign(c.Secret, c.Now(), body))
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests:
		return &PermanentError{Status: resp.StatusCode, Body: strings.TrimSpace(string(msg))}
	}
	return fmt.Errorf("payout system answered %d %s", resp.StatusCode, strings.TrimSpace(string(msg)))
}
