package payout

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reftrack/reftrack/commission/statement"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	at     = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
)

func TestSignVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"total_minor":12345}`)
	good := Sign(secret, at, body)
	tests := []struct {
		name   string
		header string
		body   string
		now    time.Time
		secret []byte
		want   error
	}{
		{"good", good, string(body), at.Add(time.Minute), secret, nil},
		{"tampered body", good, `{"total_minor":12346}`, at, secret, ErrBadSignature},
		{"other secret", good, string(body), at, []byte("another secret of enough length!"), ErrBadSignature},
		{"replayed later", good, string(body), at.Add(6 * time.Minute), secret, ErrStale},
		{"from the future", good, string(body), at.Add(-6 * time.Minute), secret, ErrStale},
		{"timestamp changed", strings.Replace(good, "t=", "t=1", 1), string(body), at, secret, ErrBadSignature},
		{"empty", "", string(body), at, secret, ErrMalformed},
		{"no mac", "t=1764579600", string(body), at, secret, ErrMalformed},
		{"short mac", "t=1764579600,v1=abcd", string(body), at, secret, ErrMalformed},
		{"two timestamps", good + ",t=1", string(body), at, secret, ErrMalformed},
		{"padded timestamp", strings.Replace(good, "t=", "t=0", 1), string(body), at, secret, ErrMalformed},
	}
	for _, tt := range tests {
		if err := Verify(tt.secret, tt.header, []byte(tt.body), tt.now, 5*time.Minute); !errors.Is(err, tt.want) {
			t.Errorf("%s: Verify = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	body := []byte("{}")
	f.Add(Sign(secret, at, body))
	f.Add("t=1,v1=00")
	f.Add(",,==")
	f.Fuzz(func(t *testing.T, header string) {
		// Only the one header Sign makes for this body and time verifies:
		// the MAC covers the timestamp, and hex has one spelling.
		if Verify(secret, header, body, at, time.Minute) == nil && header != Sign(secret, at, body) {
			t.Fatalf("verified a header Sign never made: %q", header)
		}
	})
}

func stmt(payee string, total int64) statement.Statement {
	return statement.Statement{PayeeType: "agent", PayeeID: payee, Currency: "USD",
		From: at.AddDate(0, -1, 0), To: at, TotalMinor: total, Total: "1.00"}
}

func TestDeliveryID(t *testing.T) {
	t.Parallel()
	a, b := DeliveryID(stmt("a-1", 100)), DeliveryID(stmt("a-1", 100))
	if a != b {
		t.Errorf("same statement, ids %s and %s", a, b)
	}
	for _, other := range []statement.Statement{stmt("a-2", 100), stmt("a-1", 101)} {
		if DeliveryID(other) == a {
			t.Errorf("different statement %+v has the same id", other)
		}
	}
}

// receiver is a payout system that checks signatures, remembers delivery
// ids, and answers with the statuses it is given, then 200.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	ids      []string
	bad      int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if Verify(secret, req.Header.Get(SignatureHeader), body, time.Now(), 5*time.Minute) != nil {
		r.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	r.ids = append(r.ids, req.Header.Get(DeliveryIDHeader))
	status := http.StatusOK
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	w.WriteHeader(status)
}

func TestDeliver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		statuses []int
		secret   []byte
		attempts int // requests the receiver sees
		perm     bool
		fail     bool
	}{
		{"first time", nil, secret, 1, false, false},
		{"retries a 503 and a 429", []int{503, 429}, secret, 3, false, false},
		{"gives up", []int{500, 500, 500}, secret, 3, false, true},
		{"does not retry a 422", []int{422}, secret, 1, true, true},
		{"wrong secret refused", nil, []byte("not the receiver's secret, sorry"), 0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rcv := &receiver{statuses: tt.statuses}
			srv := httptest.NewServer(rcv)
			defer srv.Close()
			c := &Client{URL: srv.URL, Secret: tt.secret, HTTP: srv.Client(), Now: time.Now, Attempts: 3, Backoff: time.Millisecond}
			err := c.Deliver(context.Background(), stmt("a-1", 100))
			var perm *PermanentError
			if (err != nil) != tt.fail || errors.As(err, &perm) != tt.perm {
				t.Fatalf("Deliver = %v", err)
			}
			if len(rcv.ids) != tt.attempts {
				t.Fatalf("receiver saw %d signed requests, want %d", len(rcv.ids), tt.attempts)
			}
			for _, id := range rcv.ids {
				if id != DeliveryID(stmt("a-1", 100)) {
					t.Errorf("delivery id %s changed between attempts", id)
				}
			}
		})
	}
}
