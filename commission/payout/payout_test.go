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
	"github.com/reftrack/reftrack/internal/testenv"
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
	return statement.Statement{PayeeType: "agent", PayeeID: payee, Currency: "USD", Period: "2026-11", Number: 1,
		From: at.AddDate(0, -1, 0), To: at, TotalMinor: total, Total: "1.00"}
}

func partner(s statement.Statement, id string) statement.Statement {
	s.PartnerID = id
	return s
}

func TestDeliveryID(t *testing.T) {
	t.Parallel()
	a := DeliveryID(stmt("a-1", 100))
	other := func(f func(*statement.Statement)) statement.Statement {
		s := stmt("a-1", 100)
		f(&s)
		return s
	}
	tests := []struct {
		name string
		s    statement.Statement
		same bool
	}{
		{"the same statement again", stmt("a-1", 100), true},
		{"another payee", stmt("a-2", 100), false},
		{"another currency", other(func(s *statement.Statement) { s.Currency = "EUR" }), false},
		{"another period", other(func(s *statement.Statement) { s.Period = "2026-12" }), false},
		{"a supplementary statement", other(func(s *statement.Statement) { s.Number = 2 }), false},
		// Payees are the partner's (issue #13: two partners' payees of one
		// id shared a statement, so one partner's late entries changed a
		// statement delivered when the other had closed).
		{"another partner's payee", other(func(s *statement.Statement) { s.PartnerID = "bestquote" }), false},
		// The total is not part of the id: a payout system deduplicating
		// by id must never see a new id for a period it paid.
		{"another range asked for", other(func(s *statement.Statement) { s.To = s.To.AddDate(0, 1, 0) }), true},
	}
	for _, tt := range tests {
		if got := DeliveryID(tt.s) == a; got != tt.same {
			t.Errorf("%s: same id = %v, want %v", tt.name, got, tt.same)
		}
	}
}

// TestRerunOfClosedPeriodPaysNothingAgain (issue #13: statements selected
// lines by conversion date and the delivery id included the total, so a
// re-run of a closed period after a late correction sent a new total under
// a new id). A correction arriving after October's close posts in
// November (commission's period close); every later run, whatever range it
// asks for, yields October's statement with the same id and total, and the
// correction is paid with November's statement under its own id.
func TestRerunOfClosedPeriodPaysNothingAgain(t *testing.T) {
	t.Parallel()
	oct, nov, dec := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	entry := func(id, kind, period string, amount int64) statement.Line {
		return statement.Line{LineID: id, PayeeType: "agent", PayeeID: "A-1", Currency: "USD", Kind: kind, AmountMinor: amount, Period: period}
	}
	october := []statement.Line{entry("e1", "accrual", "2026-10-01", 150000), entry("e2", "adjustment", "2026-10-01", -2500)}
	correction := entry("e3", "clawback", "2026-11-01", -75205) // the cancellation of e1's policy, after the close
	first, err := statement.Build(october, oct, nov)
	if err != nil || len(first) != 1 {
		t.Fatalf("first run: %v %+v", err, first)
	}
	paid := map[string]int64{DeliveryID(first[0]): first[0].TotalMinor} // what a payout system deduplicating by id pays
	for _, rerun := range []struct {
		name     string
		from, to time.Time
		lines    []statement.Line
	}{
		{"october again", oct, nov, october},
		{"october and november", oct, dec, append(october[:2:2], correction)},
		{"november", nov, dec, []statement.Line{correction}},
	} {
		ss, err := statement.Build(rerun.lines, rerun.from, rerun.to)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			id := DeliveryID(s)
			if was, ok := paid[id]; ok && was != s.TotalMinor {
				t.Errorf("%s: statement %s %s re-sent under id %s with total %d, paid %d", rerun.name, s.PayeeID, s.Period, id, s.TotalMinor, was)
			}
			paid[id] = s.TotalMinor
		}
	}
	var total int64
	for _, v := range paid {
		total += v
	}
	if want := int64(150000 - 2500 - 75205); total != want || len(paid) != 2 {
		t.Errorf("paid %v (%d in all), want October's and November's statements summing to %d", paid, total, want)
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

// TestPlan: a re-run sends only statements never delivered, skips those
// delivered with the same total, and stops on one whose delivered total
// changed rather than send it under an id the payout system already paid.
func TestPlan(t *testing.T) {
	t.Parallel()
	oct := func(payee string, total int64) statement.Statement {
		s := stmt(payee, total)
		s.Period = "2026-10"
		return s
	}
	delivered := map[string]int64{DeliveryID(oct("a-1", 100)): 100, DeliveryID(partner(oct("a-3", 7), "acme")): 7}
	tests := []struct {
		name       string
		ss         []statement.Statement
		send, skip int
		fail       bool
	}{
		{"first run", []statement.Statement{oct("a-2", 50)}, 1, 0, false},
		{"re-run of a delivered period", []statement.Statement{oct("a-1", 100), oct("a-2", 50)}, 1, 1, false},
		{"a delivered period changed", []statement.Statement{oct("a-1", 101)}, 0, 0, true},
		// Delivered under the id of before statements were per partner:
		// that statement paid every partner's entries of the period.
		{"delivered before statements were per partner", []statement.Statement{partner(oct("a-1", 60), "acme"), partner(oct("a-1", 40), "other")}, 0, 2, false},
		{"another partner's delivered period changed", []statement.Statement{partner(oct("a-3", 5), "acme")}, 0, 0, true},
	}
	for _, tt := range tests {
		send, skip, err := Plan(tt.ss, delivered)
		if (err != nil) != tt.fail || len(send) != tt.send || len(skip) != tt.skip {
			t.Errorf("%s: send %d, skip %d, err %v; want %d, %d, failure %v", tt.name, len(send), len(skip), err, tt.send, tt.skip, tt.fail)
		}
	}
}

// TestRecordDelivered: what Record notes, Delivered reads back, once however
// often it is noted (a crash between delivery and record re-sends).
func TestRecordDelivered(t *testing.T) {
	t.Parallel()
	conn, _ := testenv.ClickHouse(t, "payout_test", true)
	ctx := context.Background()
	a, b := stmt("a-1", 100), stmt("a-2", -40)
	for _, s := range []statement.Statement{a, b, a} {
		if err := Record(ctx, conn, s, at); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Delivered(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[DeliveryID(a)] != 100 || got[DeliveryID(b)] != -40 {
		t.Errorf("delivered %v", got)
	}
	bad := stmt("a-3", 1)
	bad.Period = ""
	if err := Record(ctx, conn, bad, at); err == nil {
		t.Error("recorded a statement without a period")
	}
}
