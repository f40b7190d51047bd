package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
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
		{"keeps id", `{"event_id":"e-1","lead_id":"L-1","x":1}`, "", "e-1", "L-1"},
		{"derives id", `{"lead_id":"L-2"}`, "", "", "L-2"},
		{"no lead keys by id", `{"event_id":"e-3"}`, "", "e-3", "e-3"},
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

	tests := []struct {
		name, ctype, body string
		status            int
		problem           string
		ids               int
	}{
		{"one", "application/json", `{"event_id":"e-1","lead_id":"L-1"}`, 202, "", 1},
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

	// Exactly the three accepted events reached Kafka, keyed by lead.
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var recs []*kgo.Record
	deadline := time.Now().Add(10 * time.Second)
	for len(recs) < 3 && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		recs = append(recs, cons.PollFetches(ctx).Records()...)
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	recs = append(recs, cons.PollFetches(ctx).Records()...)
	cancel()
	if len(recs) != 3 {
		t.Fatalf("%d records in %s, want 3", len(recs), topic)
	}
	for _, r := range recs {
		if !strings.HasPrefix(string(r.Key), "L-") || !strings.Contains(string(r.Value), `"received_at":"2026-11-25T12:00:00Z"`) {
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
