package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/pii"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/jsoncheck"
	"github.com/reftrack/reftrack/schemas/validation"
)

// newSealer is seal mode's Sealer over an in-memory key store.
func newSealer(t testing.TB, store pii.DataKeyStore) *Sealer {
	t.Helper()
	b, err := pii.NewKeyringFile("test")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := pii.ParseKeyring(b)
	if err != nil {
		t.Fatal(err)
	}
	v, err := validation.New(validation.DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	return &Sealer{Cipher: &pii.Cipher{Ring: ring, Store: store}, Validator: v, Normalizer: validation.Normalizer(validation.DefaultConfig)}
}

// failingStore is a key store that cannot be reached.
type failingStore struct{ pii.DataKeyStore }

func (failingStore) Get(context.Context, []string) ([]string, error) {
	return nil, errors.New("connection refused")
}

// contactOf decodes payload.lead of an event.
func contactOf(t testing.TB, value []byte) schemas.Contact {
	t.Helper()
	var ev struct {
		Payload struct {
			Lead schemas.Contact `json:"lead"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(value, &ev); err != nil {
		t.Fatalf("decode %s: %v", value, err)
	}
	return ev.Payload.Lead
}

// referral is a referral.created of lead with the given contact JSON.
func referral(lead, contact string) string {
	return `{"event_type":"referral.created","schema_version":1,"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"` + lead +
		`","payload":{"referrer":{"id":"a-1","type":"agent"},"channel":"crm","lead":` + contact + `}}`
}

// clearContact is what the partner sends; normalizedContact what validate
// would make of it, and what a sealed field must open to.
const clearContact = `{"name":"  Zoë   Quinn ","email":" Zoe.Quinn@Example.COM ","phone":"+1 415 555 0123"}`

var normalizedContact = schemas.Contact{Name: "Zoë Quinn", Email: "zoe.quinn@example.com", Phone: "+14155550123"}

// leaks names the clear values (as sent and as normalized) found in b.
func leaks(b []byte) []string {
	var found []string
	for _, v := range []string{"Zoë", "Quinn", "zoe.quinn", "Zoe.Quinn", "example.com", "Example.COM", "415", "0123"} {
		if strings.Contains(string(b), v) {
			found = append(found, v)
		}
	}
	return found
}

// TestPIIConfigValidate: --pii-mode takes off or seal; seal needs a keyring
// and a usable key store.
func TestPIIConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // substring of the error, "" for none
	}{
		{"default is off", nil, nil, ""},
		{"seal with a keyring", []string{"--pii-mode", "seal", "--pii-keyring", "k.json"}, nil, ""},
		{"seal from the environment", nil, map[string]string{"REFTRACK_PII_MODE": "seal", "REFTRACK_PII_KEYRING": "k.json"}, ""},
		{"seal without a keyring", []string{"--pii-mode", "seal"}, nil, "--pii-keyring"},
		{"seal without a key store", []string{"--pii-mode", "seal", "--pii-keyring", "k.json", "--pii-redis", ""}, nil, "key store"},
		{"unknown mode", []string{"--pii-mode", "encrypt"}, nil, `--pii-mode "encrypt"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p PIIConfig
			fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
			p.RegisterFlags(fs)
			if err := worker.ParseFlags(fs, tt.args, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatal(err)
			}
			err := p.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestSealHTTP: in seal mode, a contact reaches referrals.ingested only
// sealed, opens with the keyring to the normalized value, and the event ids
// are those of off mode; a contact that cannot be sealed is 422, a key
// store that cannot be reached 503, never the clear contact.
func TestSealHTTP(t *testing.T) {
	t.Parallel()
	sealedTopic, clearTopic := "ps."+schemas.TopicIngested, "pc."+schemas.TopicIngested
	brokers := testenv.Kafka(t, 1, sealedTopic, clearTopic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	store := &pii.MemoryStore{}
	sealer := newSealer(t, store)
	server := func(topic string, s *Sealer) *httptest.Server {
		srv := httptest.NewServer((&API{Producer: cl, Topic: topic, MaxBody: 1 << 16, Now: func() time.Time { return now },
			Validator: sealer.Validator, Sealer: s,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry())}).Handler())
		t.Cleanup(srv.Close)
		return srv
	}
	sealed, clear := server(sealedTopic, sealer), server(clearTopic, nil)
	down := server(sealedTopic, newSealer(t, failingStore{}))

	// Accepted: the typed endpoint and /v1/events, ids as in off mode.
	accepted := []struct{ path, body string }{
		{"/v1/referrals", referral("L-1", clearContact)},
		{"/v1/events", referral("L-2", clearContact)},
		{"/v1/events", "[" + referral("L-3", clearContact) + `,{"event_type":"referral.status_updated","partner_id":"acme","lead_id":"L-3"}]`},
	}
	var ids []string
	for _, a := range accepted {
		s1, b1, _ := do(t, sealed, "POST", a.path, "", "", a.body)
		s2, b2, _ := do(t, clear, "POST", a.path, "", "", a.body)
		if s1 != 202 || s2 != 202 || b1 != b2 {
			t.Fatalf("%s: seal %d %s, off %d %s: want 202 and the same event ids", a.path, s1, b1, s2, b2)
		}
		var acc Accepted
		_ = json.Unmarshal([]byte(b1), &acc)
		ids = append(ids, acc.EventIDs...)
	}

	// Refused, and nothing produced for them.
	refused := []struct {
		name, path, body string
		status           int
		code, pointer    string
	}{
		{"sealed-looking value", "/v1/events", referral("L-4", `{"email":"enc:v1:A256GCM:0123456789abcdef:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`), 422, CodeSealedFromPartner, "/payload/lead/email"},
		{"phone that is none", "/v1/events", referral("L-4", `{"phone":"call me"}`), 422, "", "/payload/lead/phone"},
		{"email that is none", "/v1/referrals", referral("L-4", `{"email":"nobody"}`), 422, "", "/payload/lead/email"},
		{"contact not a string", "/v1/events", `[{"lead_id":"L-4"},{"partner_id":"acme","lead_id":"L-4","payload":{"lead":{"phone":4155550123}}}]`, 422, CodeInvalidContact, "/1/payload/lead/phone"},
		{"lead that is no object", "/v1/events", referral("L-4", `"zoe@example.com"`), 422, CodeInvalidContact, "/payload/lead"},
		{"contact of no lead", "/v1/events", `{"partner_id":"acme","payload":{"lead":{"email":"zoe@example.com"}}}`, 422, CodeContactWithoutSubject, "/payload/lead"},
	}
	for _, r := range refused {
		status, body, _ := do(t, sealed, "POST", r.path, "", "", r.body)
		if status != r.status || !strings.Contains(body, `"pointer":"`+r.pointer+`"`) || !strings.Contains(body, r.code) {
			t.Errorf("%s: %d %s, want %d %s at %s", r.name, status, body, r.status, r.code, r.pointer)
		}
	}
	status, body, h := do(t, down, "POST", "/v1/referrals", "", "", referral("L-5", clearContact))
	if status != 503 || h.Get("Retry-After") == "" {
		t.Errorf("key store down: %d %s, want 503 with Retry-After", status, body)
	}

	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(sealedTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	recs := testenv.ReadExactly(t, cons, sealedTopic, len(ids))
	for i, r := range recs {
		if l := leaks(r.Value); len(l) > 0 {
			t.Errorf("record %d holds %q in the clear: %s", i, l, r.Value)
		}
		var ev struct {
			EventID   string `json:"event_id"`
			EventType string `json:"event_type"`
		}
		_ = json.Unmarshal(r.Value, &ev)
		if ev.EventID != ids[i] {
			t.Errorf("record %d: event id %s, want %s", i, ev.EventID, ids[i])
		}
		if ev.EventType != schemas.TypeReferralCreated {
			continue
		}
		got := contactOf(t, r.Value)
		if !pii.ContactSealed(got) {
			t.Errorf("record %d: contact %+v not sealed", i, got)
		}
		key, err := sealer.Cipher.KeyOf(context.Background(), pii.Subject{Partner: "acme", Lead: strings.TrimPrefix(string(r.Key), "acme|")})
		if err != nil {
			t.Fatal(err)
		}
		if opened, err := pii.OpenContact(key, got); err != nil || opened != normalizedContact {
			t.Errorf("record %d opens to %+v, %v; want %+v", i, opened, err, normalizedContact)
		}
	}
}

// TestSealInbound: the Kafka path seals like the HTTP one, keeps the event
// id of off mode, dead-letters a contact it cannot seal and retries (does
// not dead-letter, does not pass on in the clear) without the key store.
func TestSealInbound(t *testing.T) {
	t.Parallel()
	acme, _ := schemas.InboundTopicFor("acme")
	sealer := newSealer(t, &pii.MemoryStore{})
	msg := func(v string) worker.Message {
		return worker.Message{Topic: acme, BareTopic: acme, Value: []byte(v)}
	}
	ctx := context.Background()
	off := &Inbound{Now: func() time.Time { return now }}
	seal := &Inbound{Now: off.Now, Sealer: sealer}

	raw := referral("L-1", clearContact)
	want, err := off.Process(ctx, msg(raw))
	if err != nil {
		t.Fatal(err)
	}
	got, err := seal.Process(ctx, msg(raw))
	if err != nil || len(got) != 1 {
		t.Fatalf("Process = %v, %v", got, err)
	}
	if l := leaks(got[0].Value); len(l) > 0 {
		t.Errorf("sealed record holds %q: %s", l, got[0].Value)
	}
	// A resend is byte-identical once sealed: dedupe fingerprints the
	// payload, and a copy that differs would be refused as a reused id.
	if again, err := seal.Process(ctx, msg(raw)); err != nil || string(again[0].Value) != string(got[0].Value) {
		t.Errorf("the same record sealed twice differs:\n%s\n%s (%v)", got[0].Value, again[0].Value, err)
	}
	var a, b struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(want[0].Value, &a)
	_ = json.Unmarshal(got[0].Value, &b)
	if a.EventID == "" || a.EventID != b.EventID || string(want[0].Key) != string(got[0].Key) {
		t.Errorf("event id %s key %s with seal, %s %s without", b.EventID, got[0].Key, a.EventID, want[0].Key)
	}
	key, err := sealer.Cipher.KeyOf(ctx, pii.Subject{Partner: "acme", Lead: "L-1"})
	if err != nil {
		t.Fatal(err)
	}
	if opened, err := pii.OpenContact(key, contactOf(t, got[0].Value)); err != nil || opened != normalizedContact {
		t.Errorf("opens to %+v, %v", opened, err)
	}

	_, err = seal.Process(ctx, msg(referral("L-2", `{"email":"enc:v1:A256GCM:0123456789abcdef:AAAA"}`)))
	var rej *worker.RejectError
	if !errors.As(err, &rej) || rej.Reasons[0].Code != CodeSealedFromPartner {
		t.Errorf("sealed-looking input: %v, want reject %s", err, CodeSealedFromPartner)
	}
	down := &Inbound{Now: off.Now, Sealer: newSealer(t, failingStore{})}
	if out, err := down.Process(ctx, msg(raw)); err == nil || worker.IsPermanent(err) || out != nil {
		t.Errorf("key store down: %v, %v; want a retryable error and nothing out", out, err)
	}
}

// TestSealModeStarts: ingest in seal mode loads the keyring and reaches the
// key store at start, and refuses to start with an unreadable keyring.
func TestSealModeStarts(t *testing.T) {
	t.Parallel()
	_, prefix := testenv.Redis(t)
	dir := t.TempDir()
	b, err := pii.NewKeyringFile("test")
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "keyring.json")
	if err := pii.WriteKeyringFile(good, b); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open.json")
	if err := os.WriteFile(open, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		keyring string
		ok      bool
	}{{good, true}, {open, false}, {filepath.Join(dir, "missing.json"), false}} {
		a := &App{}
		fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
		a.RegisterFlags(fs)
		if err := fs.Parse([]string{"--insecure-no-auth", "--pii-mode", "seal", "--pii-keyring", tt.keyring, "--pii-redis", testenv.RedisAddr(), "--pii-redis-key-prefix", prefix}); err != nil {
			t.Fatal(err)
		}
		if err := a.Validate(); err != nil {
			t.Fatal(err)
		}
		_, closeFn, err := a.Start(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
		if (err == nil) != tt.ok {
			t.Errorf("%s: Start = %v, want ok %v", tt.keyring, err, tt.ok)
		}
		if closeFn != nil {
			closeFn()
		}
	}
}

// FuzzSeal: whatever a partner sends, sealing never panics, never changes
// the event id or key, keeps the event a JSON object, and what it passes
// on holds a contact that is sealed or none at all.
func FuzzSeal(f *testing.F) {
	sealer := newSealer(f, &pii.MemoryStore{})
	for _, s := range []string{referral("L-1", clearContact), referral("L-2", `{"email":"enc:v1:x"}`), referral("", `{"name":"A"}`),
		`{"partner_id":"acme","lead_id":"L","payload":{"lead":{"phone":7}}}`, `{"payload":{"lead":[]}}`, `{"payload":5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := StampFor(raw, now, "acme")
		if err != nil {
			return
		}
		events := []Stamped{s}
		reasons, err := sealer.Seal(context.Background(), events)
		if err != nil || len(reasons[0]) > 0 {
			return
		}
		out := events[0]
		if out.EventID != s.EventID || string(out.Key) != string(s.Key) {
			t.Fatalf("sealing changed the id or key: %s %s → %s %s", s.EventID, s.Key, out.EventID, out.Key)
		}
		// Member names as the schema reads them: exactly (encoding/json
		// would take "leAd" for "lead"; the schema refuses that event).
		doc, err := jsoncheck.Decode(out.Value)
		obj, ok := doc.(map[string]any)
		if err != nil || !ok {
			t.Fatalf("sealed event is no JSON object (%v): %s", err, out.Value)
		}
		payload, _ := obj["payload"].(map[string]any)
		lead, _ := payload["lead"].(map[string]any)
		for _, f := range []string{pii.FieldName, pii.FieldEmail, pii.FieldPhone} {
			if v, ok := lead[f].(string); ok && v != "" && !pii.IsCiphertext(v) {
				t.Fatalf("a clear %s passed unsealed: %s", f, out.Value)
			}
		}
	})
}
