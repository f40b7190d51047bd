package ingest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// edge is an API on a real listener with an in-process Kafka, the real
// Redis, HS256 auth and a clock the test moves.
type edge struct {
	api     *API
	srv     *httptest.Server
	brokers []string
	topic   string
	clock   atomic.Int64 // unix nanoseconds
}

func newEdge(t *testing.T, configure func(*API)) *edge {
	t.Helper()
	e := &edge{topic: "e" + testenv.RandomID() + "." + schemas.TopicIngested}
	e.brokers = testenv.Kafka(t, 1, e.topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	rdb, prefix := testenv.Redis(t)
	v, err := auth.New(context.Background(), auth.Config{Issuer: testIssuer, Audience: "reftrack-ingest", HS256Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Store(now.UnixNano())
	e.api = &API{Producer: cl, Topic: e.topic, MaxBody: 1 << 16, Now: func() time.Time { return time.Unix(0, e.clock.Load()).UTC() },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry()),
		Auth: v, Redis: rdb, RedisPrefix: prefix, IdempotencyTTL: time.Hour}
	if configure != nil {
		configure(e.api)
	}
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

func (e *edge) advance(d time.Duration) { e.clock.Add(int64(d)) }

// records reads what reached the topic, waiting for want of them.
func (e *edge) records(t *testing.T, want int) []*kgo.Record {
	t.Helper()
	cons, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(e.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var recs []*kgo.Record
	for deadline := time.Now().Add(10 * time.Second); len(recs) < want && time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		recs = append(recs, cons.PollFetches(ctx).Records()...)
		cancel()
	}
	return recs
}

func events(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`{"lead_id":"L-%d"}`, i)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestStampForScopesDerivedIDs holds finding 2: an id derived at ingest is
// the partner's, and the record key is the tenant-scoped lead.
func TestStampForScopesDerivedIDs(t *testing.T) {
	t.Parallel()
	raw := []byte(`{"event_type":"referral.created","lead_id":"L-1"}`)
	stamp := func(partner string) Stamped {
		s, err := StampFor(raw, now, partner)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	acme, beta, acmeAgain := stamp("acme"), stamp("beta"), stamp("acme")
	tests := []struct {
		name      string
		got, want string
		same      bool
	}{
		{"two partners, same bytes: two ids", acme.EventID, beta.EventID, false},
		{"one partner, same bytes: one id", acme.EventID, acmeAgain.EventID, true},
		{"key is the partner's lead", string(acme.Key), string(schemas.LeadKey("acme", "L-1")), true},
		{"other partner's key", string(beta.Key), string(schemas.LeadKey("beta", "L-1")), true},
	}
	for _, tt := range tests {
		if (tt.got == tt.want) != tt.same {
			t.Errorf("%s: %q vs %q", tt.name, tt.got, tt.want)
		}
	}
}

// TestServerTimeouts holds finding 3: a body sent one byte at a time and an
// idle keep-alive are both cut off by the server. The deadlines here are
// generous upper bounds, not measurements.
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	var app App
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	app.RegisterFlags(fs)
	if err := fs.Parse([]string{"--http-read-timeout=300ms", "--http-idle-timeout=300ms"}); err != nil {
		t.Fatal(err)
	}
	api := &API{MaxBody: 1 << 20, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry())}
	addr := serve(t, api.Handler(), app.Edge.serveOptions()...)

	t.Run("slow body", func(t *testing.T) {
		t.Parallel()
		conn := dial(t, addr)
		_, _ = io.WriteString(conn, "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n[")
		stop := make(chan struct{})
		defer close(stop)
		go trickle(conn, stop)
		if err := answeredOrClosed(conn); err != nil {
			t.Fatalf("slow body still held open: %v", err)
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		t.Parallel()
		conn := dial(t, addr)
		_, _ = io.WriteString(conn, "GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
			t.Fatalf("idle keep-alive not closed: %v", err)
		}
	})
}

// serve runs h with worker.ServeListener on a loopback port until the test ends.
func serve(t *testing.T, h http.Handler, opts ...worker.ServeOption) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.ServeListener(ctx, ln, h, slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// trickle writes one byte of a body every 50 ms until stop or a failed write.
func trickle(conn net.Conn, stop <-chan struct{}) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if _, err := conn.Write([]byte("{")); err != nil {
				return
			}
		}
	}
}

// answeredOrClosed waits (20 s at most) for the server to answer or close.
func answeredOrClosed(conn net.Conn) error {
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) {
		return nil
	}
	return err
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// TestLimitsBeforeWork holds finding 4: the limiters answer before a body is
// decoded, a batch is counted before its elements are built, and failing
// clients are limited by address.
func TestLimitsBeforeWork(t *testing.T) {
	t.Parallel()
	acme := token(t, auth.RolePartner, "acme")
	type step struct {
		authz, body string
		status      int
		problem     string
	}
	tests := []struct {
		name      string
		configure func(*API)
		steps     []step
	}{
		{"more events than --max-events", func(a *API) { a.MaxEvents = 3 }, []step{
			{acme, events(4), 413, "too_many_events"},
			{acme, events(3), 202, ""},
		}},
		{"a batch over the burst is 413, never 429", func(a *API) { a.MaxEvents = 100; a.Rate, a.Burst = 10, 5 }, []step{
			{acme, events(6), 413, "too_many_events"},
			{acme, events(5), 202, ""},
		}},
		{"an empty bucket answers before the body is read", func(a *API) { a.Rate, a.Burst = 1, 2 }, []step{
			{acme, events(2), 202, ""},
			{acme, `[{"lead_id":`, 429, "rate_limited"},
			{acme, "[" + strings.Repeat("{},", 5000) + "{}]", 429, "rate_limited"},
		}},
		{"unauthenticated floods are limited by address", func(a *API) { a.ClientRate, a.ClientBurst = 1, 2 }, []step{
			{"Bearer x.y.z", `{}`, 401, auth.CodeInvalidToken},
			{"", `{}`, 401, auth.CodeNoToken},
			{"Bearer x.y.z", `{}`, 429, "rate_limited"},
		}},
		{"malformed floods are limited by address", func(a *API) { a.ClientRate, a.ClientBurst = 1, 2 }, []step{
			{acme, `[{"lead_id":`, 400, CodeMalformedJSON},
			{acme, `[1,`, 400, CodeMalformedJSON},
			{acme, `{"lead_id":"L"}`, 429, "rate_limited"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEdge(t, tt.configure)
			for i, s := range tt.steps {
				status, body, hdr := do(t, e.srv, http.MethodPost, "/v1/events", s.authz, "", s.body)
				if status != s.status || (s.problem != "" && !strings.Contains(body, ProblemBase+s.problem)) {
					t.Fatalf("step %d: %d %.300s, want %d %s", i, status, body, s.status, s.problem)
				}
				if status == 429 && hdr.Get("Retry-After") == "" {
					t.Errorf("step %d: 429 without Retry-After", i)
				}
			}
		})
	}
}

// TestIdempotencyKeepsOnlyFinalAnswers holds finding 5: a 429 is not the
// answer of a key, and a key names one method, path and body.
func TestIdempotencyKeepsOnlyFinalAnswers(t *testing.T) {
	t.Parallel()
	acme := token(t, auth.RolePartner, "acme")
	t.Run("429 is not kept", func(t *testing.T) {
		t.Parallel()
		e := newEdge(t, func(a *API) { a.Rate, a.Burst = 1, 1 })
		if s, b, _ := do(t, e.srv, "POST", "/v1/events", acme, "", `{"lead_id":"A"}`); s != 202 {
			t.Fatalf("first: %d %s", s, b)
		}
		if s, b, _ := do(t, e.srv, "POST", "/v1/events", acme, "k-429", `{"lead_id":"B"}`); s != 429 {
			t.Fatalf("over the limit: %d %s", s, b)
		}
		e.advance(2 * time.Second)
		s, b, h := do(t, e.srv, "POST", "/v1/events", acme, "k-429", `{"lead_id":"B"}`)
		if s != 202 || h.Get("Idempotent-Replayed") != "" {
			t.Errorf("retry after Retry-After: %d %s replayed=%q", s, b, h.Get("Idempotent-Replayed"))
		}
	})
	t.Run("fingerprint covers the path", func(t *testing.T) {
		t.Parallel()
		e := newEdge(t, nil)
		body := `{"occurred_at":"2026-11-01T10:00:00Z","payload":{"status":"contacted"}}`
		if s, b, _ := do(t, e.srv, "PATCH", "/v1/referrals/L-A/status", acme, "k-path", body); s != 202 {
			t.Fatalf("first: %d %s", s, b)
		}
		s, b, _ := do(t, e.srv, "PATCH", "/v1/referrals/L-B/status", acme, "k-path", body)
		if s != 422 || !strings.Contains(b, ProblemBase+"idempotency_key_reused") {
			t.Errorf("same key and body on another lead: %d %s", s, b)
		}
	})
	t.Run("a 4xx after processing is kept", func(t *testing.T) {
		t.Parallel()
		e := newEdge(t, nil)
		body := `{"lead_id":"L","partner_id":"beta"}`
		if s, _, _ := do(t, e.srv, "POST", "/v1/events", acme, "k-403", body); s != 403 {
			t.Fatalf("first: %d", s)
		}
		if s, _, h := do(t, e.srv, "POST", "/v1/events", acme, "k-403", body); s != 403 || h.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay: %d %v", s, h)
		}
	})
}

// TestEdgeHygiene holds finding 8's HTTP part: headers, problem documents
// for routing errors, stable error text, case-insensitive bearer, and the
// token request's own checks.
func TestEdgeHygiene(t *testing.T) {
	t.Parallel()
	keys, err := reftoken.ParseKeys("k1:"+base64.StdEncoding.EncodeToString([]byte("k1-secret-0123456789abcdef0123456789")), "")
	if err != nil {
		t.Fatal(err)
	}
	e := newEdge(t, func(a *API) { a.MaxBody, a.Tokens = 2048, keys })
	acme := token(t, auth.RolePartner, "acme")
	lower := "bearer " + strings.TrimPrefix(acme, "Bearer ")
	// Library wording that must never reach a partner.
	leaks := []string{"invalid character", "unexpected EOF", "could not JSON decode", "http: request body", "token is malformed", "jsontext", "json:"}
	tests := []struct {
		name, method, path, authz, ctype, body string
		status                                 int
		problem                                string
	}{
		{"accepted", "POST", "/v1/events", acme, "application/json", `{"lead_id":"L"}`, 202, ""},
		{"bearer in lower case", "POST", "/v1/events", lower, "application/json", `{"lead_id":"L"}`, 202, ""},
		{"openapi", "GET", "/openapi.json", "", "", "", 200, ""},
		{"unknown path", "GET", "/nope", acme, "", "", 404, "not_found"},
		{"wrong method", "DELETE", "/v1/events", acme, "", "", 405, "method_not_allowed"},
		{"garbage token", "POST", "/v1/events", "Bearer x.y.z", "application/json", `{}`, 401, auth.CodeInvalidToken},
		{"malformed body", "POST", "/v1/events", acme, "application/json", `{"lead_id":`, 400, CodeMalformedJSON},
		{"too large", "POST", "/v1/events", acme, "application/json", `{"pad":"` + strings.Repeat("x", 4096) + `"}`, 413, "body_too_large"},
		{"token request malformed", "POST", "/v1/referral-tokens", acme, "application/json", `{"referrer":`, 400, CodeMalformedJSON},
		{"token request not JSON", "POST", "/v1/referral-tokens", acme, "text/plain", `{"referrer":{"id":"a-1","type":"agent"}}`, 415, "unsupported_media_type"},
		{"token request bad referrer type", "POST", "/v1/referral-tokens", acme, "application/json", `{"referrer":{"id":"a-1","type":"robot"}}`, 422, "invalid_referrer"},
		{"token request", "POST", "/v1/referral-tokens", acme, "application/json", `{"referrer":{"id":"a-1","type":"agent"}}`, 201, ""},
		{"token request bad referrer id", "POST", "/v1/referral-tokens", acme, "application/json", `{"referrer":{"id":"a 1/../x","type":"agent"}}`, 422, "invalid_referrer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, e.srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			if tt.authz != "" {
				req.Header.Set("Authorization", tt.authz)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, b, tt.status)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("security headers missing: %v", resp.Header)
			}
			if tt.problem == "" {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" || !strings.Contains(string(b), ProblemBase+tt.problem) {
				t.Errorf("%s %s, want a %s problem", ct, b, tt.problem)
			}
			for _, l := range leaks {
				if strings.Contains(string(b), l) {
					t.Errorf("error body leaks %q: %s", l, b)
				}
			}
			if tt.status == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

// TestTLS holds finding 8's transport: --tls-cert/--tls-key serve HTTPS.
func TestTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSigned(t)
	var app App
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	app.RegisterFlags(fs)
	if err := fs.Parse([]string{"--tls-cert", certFile, "--tls-key", keyFile}); err != nil {
		t.Fatal(err)
	}
	if err := app.Edge.Validate(); err != nil {
		t.Fatal(err)
	}
	api := &API{MaxBody: 1 << 16, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry())}
	addr := serve(t, api.Handler(), app.Edge.serveOptions()...)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/openapi.json")
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("status %d tls %v", resp.StatusCode, resp.TLS != nil)
	}
	half := EdgeConfig{TLSCert: certFile}
	fs2 := flag.NewFlagSet("x", flag.ContinueOnError)
	half.RegisterFlags(fs2)
	_ = fs2.Parse([]string{"--tls-cert", certFile})
	if err := half.Validate(); err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Errorf("a certificate without a key accepted: %v", err)
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: now.Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestPhoneRegion holds finding 8's last point: the synchronous check reads
// phone numbers with --phone-region, as the validate stage does.
func TestPhoneRegion(t *testing.T) {
	t.Parallel()
	const referral = `{"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"L-1",
		"payload":{"referrer":{"id":"a-1","type":"agent"},"channel":"crm","lead":{"phone":"020 7946 0958"}}}`
	tests := []struct {
		region string
		status int
	}{
		{"GB", 202},
		{"US", 422},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			t.Parallel()
			var app App
			fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
			app.RegisterFlags(fs)
			if err := fs.Parse([]string{"--phone-region", tt.region}); err != nil {
				t.Fatal(err)
			}
			v, err := app.Edge.validator()
			if err != nil {
				t.Fatal(err)
			}
			e := newEdge(t, func(a *API) { a.Validator = v })
			if s, b, _ := do(t, e.srv, "POST", "/v1/referrals", token(t, auth.RolePartner, "acme"), "", referral); s != tt.status {
				t.Errorf("%d %s, want %d", s, b, tt.status)
			}
		})
	}
}

// TestStatusSmallBody holds finding 9: PATCH .../status takes the status
// alone, the lead from the path and the partner from the token.
func TestStatusSmallBody(t *testing.T) {
	t.Parallel()
	val, err := validation.New(validation.DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	e := newEdge(t, func(a *API) { a.Validator = val })
	acme := token(t, auth.RolePartner, "acme")
	admin := token(t, auth.RoleAdmin, "")
	tests := []struct {
		name, authz, lead, body string
		status                  int
		want                    string
	}{
		{"status and reason", acme, "L-7", `{"status":"contacted","reason":"called back"}`, 202, "event_ids"},
		{"given occurred_at", acme, "L-8", `{"status":"quoted","occurred_at":"2026-11-20T09:00:00Z","idempotency_key":"q-1"}`, 202, "event_ids"},
		{"admin names the partner", admin, "L-9", `{"status":"lost","partner_id":"beta"}`, 202, "event_ids"},
		{"admin without partner", admin, "L-9", `{"status":"lost"}`, 422, `"pointer":"/partner_id"`},
		{"unknown status", acme, "L-7", `{"status":"maybe"}`, 422, `"pointer":"/payload/status"`},
		{"unknown member", acme, "L-7", `{"status":"lost","colour":"red"}`, 422, `"pointer":"/colour"`},
		{"partner for another partner", acme, "L-7", `{"status":"lost","partner_id":"beta"}`, 403, "forbidden"},
		{"envelope form still accepted", acme, "L-10", `{"occurred_at":"2026-11-01T10:00:00Z","payload":{"status":"applied"}}`, 202, "event_ids"},
	}
	for _, tt := range tests {
		if s, b, _ := do(t, e.srv, "PATCH", "/v1/referrals/"+tt.lead+"/status", tt.authz, "", tt.body); s != tt.status || !strings.Contains(b, tt.want) {
			t.Errorf("%s: %d %s, want %d with %s", tt.name, s, b, tt.status, tt.want)
		}
	}
	want := map[string]map[string]any{
		"acme|L-7":  {"partner_id": "acme", "lead_id": "L-7", "occurred_at": now.Format(time.RFC3339), "payload": map[string]any{"status": "contacted", "reason": "called back"}},
		"acme|L-8":  {"partner_id": "acme", "lead_id": "L-8", "occurred_at": "2026-11-20T09:00:00Z", "idempotency_key": "q-1", "payload": map[string]any{"status": "quoted"}},
		"beta|L-9":  {"partner_id": "beta", "lead_id": "L-9", "payload": map[string]any{"status": "lost"}},
		"acme|L-10": {"partner_id": "acme", "lead_id": "L-10", "payload": map[string]any{"status": "applied"}},
	}
	recs := e.records(t, len(want))
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for _, r := range recs {
		var got map[string]any
		if err := json.Unmarshal(r.Value, &got); err != nil {
			t.Fatal(err)
		}
		exp, ok := want[string(r.Key)]
		if !ok || got["event_type"] != schemas.TypeReferralStatusUpdated {
			t.Errorf("record %s: %s", r.Key, r.Value)
			continue
		}
		for k, v := range exp {
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Errorf("record %s: %s = %v, want %v", r.Key, k, got[k], v)
			}
		}
	}
	// The same small body for the same lead is the same event: a retry
	// without an Idempotency-Key is dropped by dedupe, not counted twice.
	_, b1, _ := do(t, e.srv, "PATCH", "/v1/referrals/L-11/status", acme, "", `{"status":"contacted"}`)
	e.advance(time.Minute)
	_, b2, _ := do(t, e.srv, "PATCH", "/v1/referrals/L-11/status", acme, "", `{"status":"contacted"}`)
	_, b3, _ := do(t, e.srv, "PATCH", "/v1/referrals/L-12/status", acme, "", `{"status":"contacted"}`)
	if b1 != b2 || b1 == b3 {
		t.Errorf("derived ids: retry %s vs %s, other lead %s", b1, b2, b3)
	}
}
