package ingest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/ingest/auth"
	"github.com/reftrack/reftrack/ingest/reftoken"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/validation"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestStamp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		code    string // expected reject code, "" for success
		wantID  string // "" to accept any derived id
		wantKey string
	}{
		{"keeps id", `{"event_id":"e-1","lead_id":"L-1","x":1}`, "", "e-1", "|L-1"},
		{"derives id", `{"lead_id":"L-2"}`, "", "", "|L-2"},
		{"keyed by the partner's lead", `{"lead_id":"L-2","partner_id":"acme"}`, "", "", "acme|L-2"},
		{"no lead keys by id", `{"event_id":"e-3"}`, "", "e-3", "|e-3"},
		{"array", `[1]`, CodeNotObject, "", ""},
		{"null", `null`, CodeNotObject, "", ""},
		{"string", `"hi"`, CodeNotObject, "", ""},
		{"truncated", `{"event_id":`, CodeMalformedJSON, "", ""},
		{"two objects", `{} {}`, CodeMalformedJSON, "", ""},
		{"numeric id", `{"event_id":7}`, CodeBadEventID, "", ""},
		{"empty id", `{"event_id":""}`, CodeBadEventID, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Stamp([]byte(tt.in), now)
			if tt.code != "" {
				var rej *worker.RejectError
				if !errors.As(err, &rej) || rej.Reasons[0].Code != tt.code {
					t.Fatalf("Stamp(%s) error = %v, want reject %s", tt.in, err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(s.Value, &got); err != nil {
				t.Fatal(err)
			}
			if got["received_at"] != "2026-11-25T12:00:00Z" || got["event_id"] != s.EventID || string(s.Key) != tt.wantKey {
				t.Errorf("stamped %s key %s", s.Value, s.Key)
			}
			if tt.wantID != "" && s.EventID != tt.wantID {
				t.Errorf("event id %s, want %s", s.EventID, tt.wantID)
			}
		})
	}
	a, _ := Stamp([]byte(`{"lead_id":"L"}`), now)
	b, _ := Stamp([]byte(`{"lead_id":"L"}`), now.Add(time.Hour))
	c, _ := Stamp([]byte(`{"lead_id":"M"}`), now)
	if a.EventID != b.EventID || a.EventID == c.EventID {
		t.Errorf("derived ids must follow the bytes, not the clock: %s %s %s", a.EventID, b.EventID, c.EventID)
	}
}

func FuzzStamp(f *testing.F) {
	for _, s := range []string{`{"event_id":"e","lead_id":"l"}`, `{}`, `[]`, `null`, "{\"a\":\"\xff\"}", `{"a":1e999}`, strings.Repeat(`{"a":`, 5000)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := Stamp(raw, now)
		if err != nil {
			if !worker.IsPermanent(err) {
				t.Fatalf("non-permanent error %v", err)
			}
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(s.Value, &m) != nil || s.EventID == "" || len(s.Key) == 0 {
			t.Fatalf("stamped output %q id %q key %q", s.Value, s.EventID, s.Key)
		}
	})
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	topic := "h." + schemas.TopicIngested
	brokers := testenv.Kafka(t, 2, topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	api := &API{Producer: cl, Topic: topic, MaxBody: 2048, Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry())}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	// Authentication is covered by TestHTTPAuth; here the API runs without.

	tests := []struct {
		name, ctype, body string
		status            int
		problem           string
		ids               int
	}{
		{"one", "application/json", `{"event_id":"e-1","lead_id":"L-1","partner_id":"acme"}`, 202, "", 1},
		{"batch", "application/json; charset=utf-8", `[{"lead_id":"L-1"},{"lead_id":"L-2"}]`, 202, "", 2},
		{"wrong type", "text/plain", `{}`, 415, "unsupported_media_type", 0},
		{"malformed", "application/json", `{"lead_id":`, 400, CodeMalformedJSON, 0},
		{"bad element", "application/json", `[{"lead_id":"L"},7]`, 400, CodeNotObject, 0},
		{"empty batch", "application/json", `[]`, 400, CodeMalformedJSON, 0},
		{"too large", "application/json", `{"pad":"` + strings.Repeat("x", 4096) + `"}`, 413, "body_too_large", 0},
	}
	for _, tt := range tests {
		resp, err := http.Post(srv.URL+"/v1/events", tt.ctype, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, resp.StatusCode, tt.status, body)
			continue
		}
		if tt.problem != "" {
			var p Problem
			if err := json.Unmarshal(body, &p); err != nil || !strings.HasSuffix(p.Type, "/"+tt.problem) || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: problem %s (%s), want type %s", tt.name, body, resp.Header.Get("Content-Type"), tt.problem)
			}
			continue
		}
		var acc Accepted
		if err := json.Unmarshal(body, &acc); err != nil || len(acc.EventIDs) != tt.ids {
			t.Errorf("%s: accepted %s", tt.name, body)
		}
	}
	// The element that failed is named by its index.
	resp, _ := http.Post(srv.URL+"/v1/events", "application/json", strings.NewReader(`[{"lead_id":"L"},7]`))
	var p Problem
	_ = json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if len(p.Reasons) != 1 || p.Reasons[0].Pointer != "/1" {
		t.Errorf("reasons %+v, want one at /1", p.Reasons)
	}

	// Exactly the three accepted events reached Kafka, keyed by the
	// tenant-scoped lead (no partner here: the API runs without auth).
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for _, r := range testenv.ReadExactly(t, cons, topic, 3) {
		if !strings.HasPrefix(string(r.Key), "acme|L-") && !strings.HasPrefix(string(r.Key), "|L-") || !strings.Contains(string(r.Value), `"received_at":"2026-11-25T12:00:00Z"`) {
			t.Errorf("record key %s value %s", r.Key, r.Value)
		}
	}
}

func BenchmarkStamp(b *testing.B) {
	raw := []byte(`{"event_type":"referral.created","schema_version":1,"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"L-1",
	"payload":{"referrer":{"id":"a-007","type":"agent"},"channel":"crm","lead":{"name":"Ana Silva","email":"ana@example.com","phone":"+1 555 123 4567"}}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Stamp(raw, now); err != nil {
			b.Fatal(err)
		}
	}
}

const (
	testIssuer = "https://auth.example.test"
	testSecret = "0123456789abcdef0123456789abcdef-test"
)

func token(t *testing.T, role, partner string) string {
	t.Helper()
	c := auth.Claims{Role: role, PartnerID: partner}
	c.Subject = "client-" + partner + role
	if role == auth.RoleAgent {
		c.AgentID = "a-1"
	}
	s, err := auth.Sign([]byte(testSecret), testIssuer, "reftrack-ingest", c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + s
}

// TestHTTPAuth: refusals, partner scoping, idempotency keys and rate limits
// on the real Redis and an in-process Kafka.
func TestHTTPAuth(t *testing.T) {
	t.Parallel()
	topic := "a." + schemas.TopicIngested
	brokers := testenv.Kafka(t, 1, topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rdb, prefix := testenv.Redis(t)
	v, err := auth.New(context.Background(), auth.Config{Issuer: testIssuer, Audience: "reftrack-ingest", HS256Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	clock := now
	api := &API{Producer: cl, Topic: topic, MaxBody: 1 << 16, Now: func() time.Time { return clock },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry()),
		Auth: v, Redis: rdb, RedisPrefix: prefix, IdempotencyTTL: time.Hour, Rate: 10, Burst: 8}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	post := func(authz, idem, body string) (int, string, http.Header) {
		return do(t, srv, http.MethodPost, "/v1/events", authz, idem, body)
	}
	acme := token(t, auth.RolePartner, "acme")
	tests := []struct {
		name, authz, body string
		status            int
		problem           string
	}{
		{"no token", "", `{"lead_id":"L"}`, 401, auth.CodeNoToken},
		{"bad token", "Bearer x.y.z", `{"lead_id":"L"}`, 401, auth.CodeInvalidToken},
		{"other partner's event", acme, `{"lead_id":"L","partner_id":"beta"}`, 403, auth.CodeForbidden},
		{"one of a batch is another partner's", acme, `[{"lead_id":"L"},{"lead_id":"M","partner_id":"beta"}]`, 403, auth.CodeForbidden},
		{"agents do not submit", token(t, auth.RoleAgent, ""), `{"lead_id":"L"}`, 403, auth.CodeForbidden},
		{"own event", acme, `{"lead_id":"L","partner_id":"acme"}`, 202, ""},
		{"partner filled in", acme, `{"lead_id":"L2"}`, 202, ""},
		{"admin for anyone", token(t, auth.RoleAdmin, ""), `{"lead_id":"L3","partner_id":"beta"}`, 202, ""},
	}
	for _, tt := range tests {
		status, body, hdr := post(tt.authz, "", tt.body)
		if status != tt.status || (tt.problem != "" && !strings.Contains(body, ProblemBase+tt.problem)) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, body, tt.status, tt.problem)
		}
		if status == 401 && hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tt.name)
		}
	}

	// Idempotency: the same key and body replays the first answer without a
	// second event; the same key with another body is refused.
	s1, b1, _ := post(acme, "k-1", `{"lead_id":"L9"}`)
	s2, b2, h2 := post(acme, "k-1", `{"lead_id":"L9"}`)
	s3, b3, _ := post(acme, "k-1", `{"lead_id":"L10"}`)
	if s1 != 202 || s2 != 202 || b1 != b2 || h2.Get("Idempotent-Replayed") != "true" || h2.Get("Content-Type") != "application/json" {
		t.Errorf("replay: %d %s / %d %s %v", s1, b1, s2, b2, h2)
	}
	if s3 != 422 || !strings.Contains(b3, "idempotency_key_reused") {
		t.Errorf("reused key: %d %s", s3, b3)
	}
	// Another partner's identical key is its own.
	if s, _, h := post(token(t, auth.RolePartner, "beta"), "k-1", `{"lead_id":"L9"}`); s != 202 || h.Get("Idempotent-Replayed") != "" {
		t.Errorf("keys must be scoped per partner: %d %v", s, h)
	}

	// Rate limit: burst 8, 10/s, at a frozen clock. acme has spent 6
	// tokens: the two 403s of the table (3 events, refused after they were
	// counted and charged), two accepted events and k-1 once; the 401s,
	// the replay and the reused key came before the charge.
	if s, _, _ := post(acme, "", `[{"lead_id":"R1"},{"lead_id":"R2"}]`); s != 202 {
		t.Fatalf("within burst: %d", s)
	}
	s, body, hdr := post(acme, "", `{"lead_id":"R-over"}`)
	if s != 429 || hdr.Get("Retry-After") != "1" || !strings.Contains(body, "rate_limited") {
		t.Errorf("over the limit: %d %s %v", s, body, hdr)
	}
	clock = clock.Add(time.Second) // ten more tokens, capped at the burst
	if s, _, _ := post(acme, "", `{"lead_id":"R3"}`); s != 202 {
		t.Errorf("after refill: %d", s)
	}

	// Exactly the accepted, non-replayed events reached Kafka: 3 from the
	// table, k-1 once, beta's k-1, R1, R2 and R3.
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var n int
	for deadline := time.Now().Add(5 * time.Second); n < 8 && time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		n += cons.PollFetches(ctx).NumRecords()
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	n += cons.PollFetches(ctx).NumRecords()
	cancel()
	if n != 8 {
		t.Errorf("%d events in Kafka, want 8", n)
	}
}

func TestReferralTokens(t *testing.T) {
	t.Parallel()
	topic := "t." + schemas.TopicIngested
	brokers := testenv.Kafka(t, 1, topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	v, err := auth.New(context.Background(), auth.Config{Issuer: testIssuer, Audience: "reftrack-ingest", HS256Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := reftoken.ParseKeys("k1:"+base64.StdEncoding.EncodeToString([]byte("k1-secret-0123456789abcdef0123456789")), "")
	if err != nil {
		t.Fatal(err)
	}
	clock := now
	api := &API{Producer: cl, Topic: topic, MaxBody: 1 << 16, Now: func() time.Time { return clock }, Auth: v, Tokens: keys,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry())}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	call := func(path, authz, body string) (int, string) {
		status, b, _ := do(t, srv, http.MethodPost, path, authz, "", body)
		return status, b
	}
	agent := token(t, auth.RoleAgent, "") // agent_id a-1
	acme := token(t, auth.RolePartner, "acme")
	for _, tt := range []struct {
		name, authz, body string
		status            int
	}{
		{"agent for itself", agent, `{"referrer":{"id":"a-1","type":"agent"},"partner_id":"acme","ttl_hours":1}`, 201},
		{"agent for another agent", agent, `{"referrer":{"id":"a-2","type":"agent"},"partner_id":"acme"}`, 403},
		{"partner for another partner", acme, `{"referrer":{"id":"a-2","type":"agent"},"partner_id":"beta"}`, 403},
		{"missing referrer", acme, `{"partner_id":"acme"}`, 422},
		{"no token", "", `{"referrer":{"id":"a-1","type":"agent"},"partner_id":"acme"}`, 401},
	} {
		if s, b := call("/v1/referral-tokens", tt.authz, tt.body); s != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, s, b, tt.status)
		}
	}
	s, b := call("/v1/referral-tokens", agent, `{"referrer":{"id":"a-1","type":"agent"},"partner_id":"acme","ttl_hours":1}`)
	var tr TokenResponse
	if err := json.Unmarshal([]byte(b), &tr); s != 201 || err != nil || tr.KeyID != "k1" || !tr.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("token: %d %s", s, b)
	}
	event := func(referrer, tok string) string {
		return fmt.Sprintf(`{"event_type":"referral.created","lead_id":"L","partner_id":"acme","payload":{"referrer":{"id":%q,"type":"agent"},"channel":"crm","referral_token":%q}}`, referrer, tok)
	}
	forged := tr.Token[:len(tr.Token)-4] + "AAAA"
	for _, tt := range []struct {
		name, body, code string
	}{
		{"valid", event("a-1", tr.Token), ""},
		{"someone else's token", event("a-2", tr.Token), CodeTokenClaimsMismatch},
		{"forged", event("a-1", forged), "token_bad_signature"},
		{"garbage", event("a-1", "xyz"), "token_malformed"},
		// An escaped event_type still names a referral: no way around the check.
		{"escaped type", strings.Replace(event("a-1", forged), "referral.created", `referral\u002ecreated`, 1), "token_bad_signature"},
	} {
		s, b := call("/v1/events", acme, tt.body)
		if (tt.code == "" && s != 202) || (tt.code != "" && (s != 422 || !strings.Contains(b, ProblemBase+tt.code) || !strings.Contains(b, "/payload/referral_token"))) {
			t.Errorf("%s: %d %s", tt.name, s, b)
		}
	}
	clock = clock.Add(2 * time.Hour)
	if s, b := call("/v1/events", acme, event("a-1", tr.Token)); s != 422 || !strings.Contains(b, "token_expired") {
		t.Errorf("expired: %d %s", s, b)
	}
	// The Kafka path refuses the same way, as a dead letter.
	in := &Inbound{Now: func() time.Time { return clock }, Tokens: keys}
	_, err = in.Process(context.Background(), worker.Message{Value: []byte(event("a-1", tr.Token))})
	var rej *worker.RejectError
	if !errors.As(err, &rej) || rej.Reasons[0].Code != "token_expired" {
		t.Errorf("Kafka path: %v", err)
	}
}

// TestREST: typed endpoints fill in the event type and check bodies against
// the same schemas as the validate stage, synchronously.
func TestREST(t *testing.T) {
	t.Parallel()
	topic := "r." + schemas.TopicIngested
	brokers := testenv.Kafka(t, 1, topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	val, err := validation.New(validation.DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	api := &API{Producer: cl, Topic: topic, MaxBody: 1 << 16, Now: func() time.Time { return now }, Validator: val,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry())}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	call := func(method, path, body string) (int, string) {
		status, b, _ := do(t, srv, method, path, "", "", body)
		return status, b
	}
	const ref = `{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c11","occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"L-1","payload":{"referrer":{"id":"a-1","type":"%s"},"channel":"crm"}}`
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string // substring of the response
	}{
		{"referral", "POST", "/v1/referrals", fmt.Sprintf(ref, "agent"), 202, "event_ids"},
		{"referral alias normalized", "POST", "/v1/referrals", fmt.Sprintf(ref, "Insurance Agent"), 202, "event_ids"},
		{"referral bad type", "POST", "/v1/referrals", fmt.Sprintf(ref, "robot"), 422, `"pointer":"/payload/referrer/type"`},
		{"batch names the element", "POST", "/v1/referrals", "[" + fmt.Sprintf(ref, "agent") + "," + fmt.Sprintf(ref, "robot") + "]", 422, `"pointer":"/1/payload/referrer/type"`},
		{"status", "PATCH", "/v1/referrals/L-7/status", `{"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","payload":{"status":"quoted"}}`, 202, "event_ids"},
		{"status unknown", "PATCH", "/v1/referrals/L-7/status", `{"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","payload":{"status":"maybe"}}`, 422, `"pointer":"/payload/status"`},
		{"policy wrong type", "POST", "/v1/policies", `{"event_type":"referral.created","lead_id":"L"}`, 422, ProblemBase + CodeBadEventType},
		{"policy premium as number", "POST", "/v1/policies", `{"event_type":"policy.issued","occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"L",
			"payload":{"policy_id":"P","product_line":"car","annual_premium":100.5,"currency":"USD","term_months":12,"effective_date":"2026-11-02","sale_type":"new_business"}}`, 422, `"pointer":"/payload/annual_premium"`},
		{"openapi", "GET", "/openapi.json", "", 200, `"openapi": "3.1.0"`},
	}
	for _, tt := range tests {
		if s, b := call(tt.method, tt.path, tt.body); s != tt.status || !strings.Contains(b, tt.want) {
			t.Errorf("%s: %d %s, want %d with %s", tt.name, s, b, tt.status, tt.want)
		}
	}
}

func FuzzSplitBody(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[{"a":1},{"b":2}]`, `[]`, ` [1,`, "\x00[", `[[[[`, `[{"a":1,"a":2}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, isArray, err := SplitBody(body)
		if err != nil {
			if !worker.IsPermanent(err) {
				t.Fatalf("non-permanent error %v", err)
			}
			return
		}
		if len(events) == 0 || (!isArray && len(events) != 1) {
			t.Fatalf("%q split into %d events (array %v)", body, len(events), isArray)
		}
		if _, err := StampAll(events, now, isArray, "p"); err != nil && !worker.IsPermanent(err) {
			t.Fatalf("StampAll: non-permanent error %v", err)
		}
	})
}

// do sends one request with optional Authorization and Idempotency-Key.
func do(t *testing.T, srv *httptest.Server, method, path, authz, idem, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}
