package ingest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/santhosh-tekuri/jsonschema/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/ingest"
	"github.com/reftrack/reftrack/ingest/apiclient"
	"github.com/reftrack/reftrack/ingest/auth"
	"github.com/reftrack/reftrack/ingest/reftoken"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/validation"
)

// TestAPIConformsToOpenAPI drives the real handler through the client
// generated from schemas/openapi.json, and checks every request the client
// sends and every answer the server gives against that document: the
// operation exists, the status is documented for it, the body satisfies its
// schema (formats asserted), the headers it marks required are there. The
// document and the server cannot drift apart without this failing.
func TestAPIConformsToOpenAPI(t *testing.T) {
	t.Parallel()
	srv := conformanceServer(t)
	conf := newConformance(t, http.DefaultTransport)
	c, err := apiclient.NewClientWithResponses(srv.URL, apiclient.WithHTTPClient(&http.Client{Transport: conf}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acme := as(t, auth.RolePartner, "acme")
	agent := as(t, auth.RoleAgent, "")

	tests := []struct {
		name   string
		call   func() (*http.Response, error)
		status int
		check  func(t *testing.T, body []byte, h http.Header)
	}{
		{"POST /v1/referrals, one", func() (*http.Response, error) {
			return do(c.CreateReferralsWithResponse(ctx, nil, referrals(t, referral("L-1", "")), acme))
		}, 202, acceptedIDs(1)},
		{"POST /v1/referrals, a batch", func() (*http.Response, error) {
			return do(c.CreateReferralsWithResponse(ctx, nil, referrals(t, referral("L-2", ""), referral("L-3", "")), acme))
		}, 202, acceptedIDs(2)},
		{"POST /v1/events, any type", func() (*http.Response, error) {
			var ev apiclient.Event
			if err := ev.FromPolicyIssued(policyIssued("L-1")); err != nil {
				return nil, err
			}
			var body apiclient.EventBatch
			if err := body.FromEvent(ev); err != nil {
				return nil, err
			}
			return do(c.SubmitEventsWithResponse(ctx, nil, body, acme))
		}, 202, acceptedIDs(1)},
		{"POST /v1/policies", func() (*http.Response, error) {
			var body apiclient.PolicyEvent
			if err := body.FromPolicyCancelled(apiclient.PolicyCancelled{
				EventType: apiclient.PolicyCancelledEventTypePolicyCancelled, SchemaVersion: apiclient.PolicyCancelledSchemaVersionN1,
				LeadId: "L-1", OccurredAt: occurred, Payload: apiclient.PolicyCancelledPayload{PolicyId: "P-1", CancelledOn: date(2026, 12, 1)},
			}); err != nil {
				return nil, err
			}
			return do(c.ReportPolicyWithResponse(ctx, nil, body, acme))
		}, 202, acceptedIDs(1)},
		{"PATCH status, the envelope", func() (*http.Response, error) {
			var body apiclient.StatusUpdate
			if err := body.FromReferralStatusUpdatedBody(apiclient.ReferralStatusUpdatedBody{
				OccurredAt: occurred, Payload: apiclient.ReferralStatusUpdatedPayload{Status: apiclient.ReferralStatusContacted},
			}); err != nil {
				return nil, err
			}
			return do(c.UpdateReferralStatusWithResponse(ctx, "L-1", nil, body, acme))
		}, 202, acceptedIDs(1)},
		{"PATCH status, the small body", func() (*http.Response, error) {
			var body apiclient.StatusUpdate
			if err := body.FromStatusChange(apiclient.StatusChange{Status: apiclient.ReferralStatusQuoted, Reason: ptr("sent a quote")}); err != nil {
				return nil, err
			}
			return do(c.UpdateReferralStatusWithResponse(ctx, "L-1", nil, body, acme))
		}, 202, acceptedIDs(1)},
		{"POST /v1/referral-tokens", func() (*http.Response, error) {
			return do(c.IssueReferralTokenWithResponse(ctx, apiclient.TokenRequest{
				Referrer: apiclient.Referrer{Id: "a-1", Type: apiclient.ReferrerTypeAgent}, PartnerId: ptr("acme"), TtlHours: ptr(1),
			}, agent))
		}, 201, func(t *testing.T, body []byte, _ http.Header) {
			var tr apiclient.TokenResponse
			if err := json.Unmarshal(body, &tr); err != nil || tr.Kid != "k1" || !tr.ExpiresAt.Equal(now.Add(time.Hour)) {
				t.Errorf("token response %s", body)
			}
		}},
		{"422 names each reason", func() (*http.Response, error) {
			return do(c.CreateReferralsWithResponse(ctx, nil, referrals(t, referral("L-4", "not.a-token")), acme))
		}, 422, problemWith("token_malformed", "/payload/referral_token")},
		{"401 without a token", func() (*http.Response, error) {
			return do(c.CreateReferralsWithResponse(ctx, nil, referrals(t, referral("L-5", ""))))
		}, 401, problemWith(auth.CodeNoToken, "")},
		{"403 for another partner's lead", func() (*http.Response, error) {
			r := referral("L-6", "")
			r.PartnerId = ptr("beta")
			return do(c.CreateReferralsWithResponse(ctx, nil, referrals(t, r), acme))
		}, 403, problemWith(auth.CodeForbidden, "")},
		{"413 for more events than a request may carry", func() (*http.Response, error) {
			var batch []apiclient.ReferralCreatedBody
			for i := range maxEvents + 1 {
				batch = append(batch, referral(fmt.Sprintf("L-big-%d", i), ""))
			}
			return do(c.CreateReferralsWithResponse(ctx, nil, referrals(t, batch...), acme))
		}, 413, problemWith(ingest.CodeTooManyEvents, "")},
		{"GET /v1/referrals/{id}", func() (*http.Response, error) {
			return do(c.GetReferralWithResponse(ctx, "L-seen", acme))
		}, 200, func(t *testing.T, body []byte, _ http.Header) {
			var l apiclient.Lead
			if err := json.Unmarshal(body, &l); err != nil || l.LeadId != "L-seen" || len(l.Events) != 2 {
				t.Errorf("lead %s", body)
			}
		}},
		{"404 for a lead the caller may not see", func() (*http.Response, error) {
			return do(c.GetReferralWithResponse(ctx, "L-seen", as(t, auth.RolePartner, "beta")))
		}, 404, problemWith("not_found", "")},
		{"GET /openapi.json, no token needed", func() (*http.Response, error) {
			return do(c.GetOpenAPIWithResponse(ctx))
		}, 200, func(t *testing.T, body []byte, _ http.Header) {
			if !bytes.Equal(body, schemas.OpenAPI()) {
				t.Error("GET /openapi.json is not schemas/openapi.json")
			}
		}},
	}
	for _, tt := range tests {
		// In order and not parallel: the rate limit and idempotency
		// store are shared.
		resp, err := tt.call()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, body, tt.status)
			continue
		}
		tt.check(t, body, resp.Header)
	}

	t.Run("an Idempotency-Key replays the first answer", func(t *testing.T) {
		key := apiclient.IdempotencyKey("k-1")
		body := referrals(t, referral("L-7", ""))
		replay := as(t, auth.RolePartner, "replay") // a bucket of its own
		first, err := c.CreateReferralsWithResponse(ctx, &apiclient.CreateReferralsParams{IdempotencyKey: &key}, body, replay)
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.CreateReferralsWithResponse(ctx, &apiclient.CreateReferralsParams{IdempotencyKey: &key}, body, replay)
		if err != nil {
			t.Fatal(err)
		}
		if first.JSON202 == nil || again.JSON202 == nil || again.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" ||
			fmt.Sprint(first.JSON202.EventIds) != fmt.Sprint(again.JSON202.EventIds) {
			t.Errorf("replay: %s then %s (%v)", first.Body, again.Body, again.HTTPResponse.Header)
		}
	})

	t.Run("429 with Retry-After once a partner's events run out", func(t *testing.T) {
		flood := as(t, auth.RolePartner, "flood")
		var last *apiclient.CreateReferralsResponse
		for i := 0; i <= burst/maxEvents; i++ { // the burst in full batches, then one more
			var batch []apiclient.ReferralCreatedBody
			for j := range maxEvents {
				batch = append(batch, referral(fmt.Sprintf("F-%d-%d", i, j), ""))
			}
			if last, err = c.CreateReferralsWithResponse(ctx, nil, referrals(t, batch...), flood); err != nil {
				t.Fatal(err)
			}
		}
		if last.ApplicationproblemJSON429 == nil || last.HTTPResponse.Header.Get("Retry-After") == "" {
			t.Errorf("over the limit: %d %s", last.StatusCode(), last.Body)
		}
	})

	t.Run("unrouted requests are problem documents too", func(t *testing.T) {
		for _, tt := range []struct {
			method, path string
			status       int
		}{
			{http.MethodGet, "/v1/nothing-here", 404},
			{http.MethodGet, "/v1/events", 405},
		} {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("%s %s: %d %s", tt.method, tt.path, resp.StatusCode, body)
				continue
			}
			conf.checkResponse(tt.method+" "+tt.path, "/components/responses/Error", resp, body)
		}
	})

	t.Run("every operation answered with success at least once", func(t *testing.T) {
		for _, op := range conf.operations() {
			if !conf.succeeded(op) {
				t.Errorf("%s never answered 2xx here: test it", op)
			}
		}
	})
}

const (
	maxEvents   = 5
	burst       = 10
	issuer      = "https://auth.example.test"
	audience    = "reftrack-ingest"
	hs256Secret = "0123456789abcdef0123456789abcdef-apiclient"
)

var (
	now      = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	occurred = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
)

// conformanceServer runs ingest.API as cmd/ingest wires it: kfake, the real
// Redis for Idempotency-Keys, HS256 tokens, referral token keys, the
// validate stage's schemas, limits small enough to reach.
func conformanceServer(t *testing.T) *httptest.Server {
	t.Helper()
	topic := "apiclient." + schemas.TopicIngested
	cl, err := kgo.NewClient(kgo.SeedBrokers(testenv.Kafka(t, 1, topic)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	rdb, prefix := testenv.Redis(t)
	v, err := auth.New(context.Background(), auth.Config{Issuer: issuer, Audience: audience, HS256Secret: hs256Secret})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := reftoken.ParseKeys("k1:"+base64.StdEncoding.EncodeToString([]byte("k1-secret-0123456789abcdef0123456789")), "")
	if err != nil {
		t.Fatal(err)
	}
	val, err := validation.New(validation.DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	api := &ingest.API{Producer: cl, Topic: topic, MaxBody: 1 << 16, Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: ingest.NewMetrics(prometheus.NewRegistry()),
		Auth: v, Redis: rdb, RedisPrefix: prefix, IdempotencyTTL: time.Hour, Validator: val, Tokens: keys,
		MaxEvents: maxEvents, Rate: 0.001, Burst: burst}
	api.ClickHouse = clickHouseWithLead(t, "L-seen")
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// clickHouseWithLead is a fresh, migrated database of the real ClickHouse
// holding two of acme's events of lead.
func clickHouseWithLead(t *testing.T, lead string) driver.Conn {
	t.Helper()
	ctx := context.Background()
	conn, _ := testenv.ClickHouse(t, "apiclient_test", true)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO referral_events (event_id, event_type, partner_id, lead_id, occurred_at, occurred_at_ms, referrer_id, referrer_type, channel, status)")
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range [][]string{
		{"e1", schemas.TypeReferralCreated, "a-1", "agent", "crm", ""},
		{"e2", schemas.TypeReferralStatusUpdated, "", "", "", "quoted"},
	} {
		at := occurred.Add(time.Duration(i) * time.Minute)
		if err := b.Append(row[0], row[1], "acme", lead, at, uint64(at.UnixMilli()), row[2], row[3], row[4], row[5]); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	return conn
}

// as signs a bearer token and returns it as a request editor.
func as(t *testing.T, role, partner string) apiclient.RequestEditorFn {
	t.Helper()
	c := auth.Claims{Role: role, PartnerID: partner}
	c.Subject = "apiclient-" + role + "-" + partner
	if role == auth.RoleAgent {
		c.AgentID = "a-1"
	}
	tok, err := auth.Sign([]byte(hs256Secret), issuer, audience, c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+tok)
		return nil
	}
}

// do turns a generated response into its HTTP response, body rewound.
func do(r any, err error) (*http.Response, error) {
	if err != nil {
		return nil, err
	}
	resp, body := fieldsOf(r)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// fieldsOf reads HTTPResponse and Body, which every generated response has.
func fieldsOf(r any) (*http.Response, []byte) {
	switch v := r.(type) {
	case *apiclient.CreateReferralsResponse:
		return v.HTTPResponse, v.Body
	case *apiclient.SubmitEventsResponse:
		return v.HTTPResponse, v.Body
	case *apiclient.ReportPolicyResponse:
		return v.HTTPResponse, v.Body
	case *apiclient.UpdateReferralStatusResponse:
		return v.HTTPResponse, v.Body
	case *apiclient.IssueReferralTokenResponse:
		return v.HTTPResponse, v.Body
	case *apiclient.GetReferralResponse:
		return v.HTTPResponse, v.Body
	case *apiclient.GetOpenAPIResponse:
		return v.HTTPResponse, v.Body
	}
	panic(fmt.Sprintf("no response fields for %T", r))
}

func referral(lead, token string) apiclient.ReferralCreatedBody {
	r := apiclient.ReferralCreatedBody{LeadId: lead, OccurredAt: occurred, Payload: apiclient.ReferralCreatedPayload{
		Referrer: apiclient.Referrer{Id: "a-1", Type: apiclient.ReferrerTypeAgent}, Channel: "crm",
	}}
	if token != "" {
		r.Payload.ReferralToken = &token
	}
	return r
}

func referrals(t *testing.T, rs ...apiclient.ReferralCreatedBody) apiclient.ReferralBatch {
	t.Helper()
	var body apiclient.ReferralBatch
	var err error
	if len(rs) == 1 {
		err = body.FromReferralCreatedBody(rs[0])
	} else {
		err = body.FromReferrals(rs)
	}
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func policyIssued(lead string) apiclient.PolicyIssued {
	return apiclient.PolicyIssued{EventType: apiclient.PolicyIssuedEventTypePolicyIssued, SchemaVersion: apiclient.PolicyIssuedSchemaVersionN1,
		LeadId: lead, OccurredAt: occurred, Payload: apiclient.PolicyIssuedPayload{
			PolicyId: "P-1", ProductLine: apiclient.PolicyIssuedPayloadProductLineAuto, AnnualPremium: "1200.00", Currency: "USD",
			TermMonths: 12, EffectiveDate: date(2026, 11, 2), SaleType: apiclient.PolicyIssuedPayloadSaleTypeNewBusiness,
		}}
}

func acceptedIDs(n int) func(t *testing.T, body []byte, _ http.Header) {
	return func(t *testing.T, body []byte, _ http.Header) {
		var a apiclient.Accepted
		if err := json.Unmarshal(body, &a); err != nil || len(a.EventIds) != n {
			t.Errorf("accepted %s, want %d ids", body, n)
		}
	}
}

// problemWith wants a problem of this code and, when pointer is not "",
// a reason at that pointer.
func problemWith(code, pointer string) func(t *testing.T, body []byte, _ http.Header) {
	return func(t *testing.T, body []byte, _ http.Header) {
		var p apiclient.Problem
		if err := json.Unmarshal(body, &p); err != nil || p.Type != ingest.ProblemBase+code {
			t.Errorf("problem %s, want type %s", body, ingest.ProblemBase+code)
			return
		}
		if pointer == "" {
			return
		}
		if p.Reasons == nil || len(*p.Reasons) == 0 || (*p.Reasons)[0].Pointer != pointer {
			t.Errorf("problem %s, want a reason at %s", body, pointer)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func date(y int, m time.Month, d int) openapi_types.Date {
	return openapi_types.Date{Time: time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// conformance is an http.RoundTripper that checks each exchange against
// the OpenAPI document, the way a partner's generated client would rely on.
type conformance struct {
	t    *testing.T
	next http.RoundTripper
	doc  map[string]any

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema
	ok       map[string]bool // "METHOD path" answered 2xx
}

const docURL = "https://reftrack.test/openapi.json"

func newConformance(t *testing.T, next http.RoundTripper) *conformance {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(schemas.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	if err := c.AddResource(docURL, bytes.NewReader(schemas.OpenAPI())); err != nil {
		t.Fatal(err)
	}
	return &conformance{t: t, next: next, doc: doc, compiler: c, compiled: map[string]*jsonschema.Schema{}, ok: map[string]bool{}}
}

func (c *conformance) RoundTrip(req *http.Request) (*http.Response, error) {
	at := req.Method + " " + req.URL.Path
	opPtr, ok := c.operation(req.Method, req.URL.Path)
	if !ok {
		c.t.Errorf("%s: no such operation in the document", at)
		return c.next.RoundTrip(req)
	}
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		c.checkBody(at+" request", opPtr+"/requestBody/content/"+esc(mediaType(req.Header.Get("Content-Type")))+"/schema", body)
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	respPtr, ok := c.response(opPtr, resp.StatusCode)
	if !ok {
		c.t.Errorf("%s: status %d is not documented", at, resp.StatusCode)
		return resp, nil
	}
	c.checkResponse(at, respPtr, resp, body)
	if resp.StatusCode < 300 {
		c.mu.Lock()
		c.ok[c.opName(opPtr)] = true
		c.mu.Unlock()
	}
	return resp, nil
}

// checkResponse checks body and headers against the response object at ptr.
func (c *conformance) checkResponse(at, ptr string, resp *http.Response, body []byte) {
	ptr, spec := c.deref(ptr)
	ct := mediaType(resp.Header.Get("Content-Type"))
	if _, ok := c.lookup(ptr + "/content/" + esc(ct)); !ok {
		c.t.Errorf("%s %d: Content-Type %q is not documented at %s", at, resp.StatusCode, ct, ptr)
	} else {
		c.checkBody(fmt.Sprintf("%s %d", at, resp.StatusCode), ptr+"/content/"+esc(ct)+"/schema", body)
	}
	headers, _ := spec["headers"].(map[string]any)
	for name := range headers {
		hPtr, h := c.deref(ptr + "/headers/" + esc(name))
		v := resp.Header.Get(name)
		if v == "" {
			if h["required"] == true {
				c.t.Errorf("%s %d: required header %s missing", at, resp.StatusCode, name)
			}
			continue
		}
		raw, _ := json.Marshal(v)
		if schema, _ := h["schema"].(map[string]any); schema["type"] == "integer" {
			raw = []byte(v)
		}
		c.checkBody(fmt.Sprintf("%s %d header %s", at, resp.StatusCode, name), hPtr+"/schema", raw)
	}
}

// checkBody validates JSON against the schema at ptr in the document.
func (c *conformance) checkBody(at, ptr string, body []byte) {
	s, err := c.schema(ptr)
	if err != nil {
		c.t.Errorf("%s: %v", at, err)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // the validator wants exact numbers
	var v any
	if err := dec.Decode(&v); err != nil {
		c.t.Errorf("%s: not JSON: %v: %s", at, err, body)
		return
	}
	if err := s.Validate(v); err != nil {
		c.t.Errorf("%s does not satisfy %s: %v\n%s", at, ptr, err, body)
	}
}

// schema compiles the schema at ptr. It is compiled as its own resource
// whose local $refs point into the document, so that no pointer with
// characters a URL fragment mangles ("+", "{") is ever compiled.
func (c *conformance) schema(ptr string) (*jsonschema.Schema, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.compiled[ptr]; ok {
		return s, nil
	}
	node, ok := c.lookup(ptr)
	if !ok {
		return nil, fmt.Errorf("no schema at %s", ptr)
	}
	raw, _ := json.Marshal(node)
	raw = bytes.ReplaceAll(raw, []byte(`"$ref":"#/`), []byte(`"$ref":"`+docURL+`#/`))
	url := fmt.Sprintf("https://reftrack.test/schema/%d.json", len(c.compiled))
	if err := c.compiler.AddResource(url, bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	s, err := c.compiler.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", ptr, err)
	}
	c.compiled[ptr] = s
	return s, nil
}

// operation finds the document's operation for a request path.
func (c *conformance) operation(method, path string) (string, bool) {
	paths, _ := c.doc["paths"].(map[string]any)
	for tmpl, item := range paths {
		if !matches(tmpl, path) {
			continue
		}
		if _, ok := item.(map[string]any)[strings.ToLower(method)]; ok {
			return "/paths/" + esc(tmpl) + "/" + strings.ToLower(method), true
		}
	}
	return "", false
}

// response picks the documented response for a status: exact, range, default.
func (c *conformance) response(opPtr string, status int) (string, bool) {
	code := strconv.Itoa(status)
	for _, key := range []string{code, code[:1] + "XX", "default"} {
		if _, ok := c.lookup(opPtr + "/responses/" + key); ok {
			return opPtr + "/responses/" + key, true
		}
	}
	return "", false
}

func (c *conformance) operations() []string {
	var ops []string
	paths, _ := c.doc["paths"].(map[string]any)
	for tmpl, item := range paths {
		for method := range item.(map[string]any) {
			ops = append(ops, c.opName("/paths/"+esc(tmpl)+"/"+method))
		}
	}
	return ops
}

func (c *conformance) succeeded(op string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok[op]
}

func (c *conformance) opName(opPtr string) string {
	op, _ := c.lookup(opPtr)
	id, _ := op.(map[string]any)["operationId"].(string)
	return id
}

// deref follows a local $ref at ptr, once, returning where it landed.
func (c *conformance) deref(ptr string) (string, map[string]any) {
	node, _ := c.lookup(ptr)
	m, _ := node.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		ptr = strings.TrimPrefix(ref, "#")
		node, _ = c.lookup(ptr)
		m, _ = node.(map[string]any)
	}
	return ptr, m
}

func (c *conformance) lookup(ptr string) (any, bool) {
	var node any = c.doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		m, ok := node.(map[string]any)
		if !ok {
			return nil, false
		}
		if node, ok = m[strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)]; !ok {
			return nil, false
		}
	}
	return node, true
}

func matches(tmpl, path string) bool {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if ts[i] != ps[i] && !(strings.HasPrefix(ts[i], "{") && ps[i] != "") {
			return false
		}
	}
	return true
}

func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

func esc(tok string) string { return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok) }
