package datadriven

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/reftrack/reftrack/attribute"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// Hand-computed: TestHandComputed's Markov shares 1/3 and 2/3 are 3333.33
// and 6666.67 basis points; the leftover point goes to the larger
// remainder, B. Three equal shares tie: the point goes to the last channel.
func TestPublishBasisPoints(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.FixedZone("", 3600))
	tests := []struct {
		name    string
		credits []Credit
		want    string
	}{
		{"thirds", []Credit{{Channel: "A", Share: 1.0 / 3}, {Channel: "B", Share: 2.0 / 3}}, "[{A 3333} {B 6667}]"},
		{"tie", []Credit{{Channel: "A", Share: 1.0 / 3}, {Channel: "B", Share: 1.0 / 3}, {Channel: "C", Share: 1.0 / 3}}, "[{A 3333} {B 3333} {C 3334}]"},
		{"noise below zero", []Credit{{Channel: "A", Share: -1e-17}, {Channel: "B", Share: 1}}, "[{A 0} {B 10000}]"},
	}
	for _, tt := range tests {
		m, err := Publish("markov", "channel", "v7", at, tt.credits)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := fmt.Sprint(m.Credits); got != tt.want || m.Version != "v7" || !m.TrainedAt.Equal(at) || m.TrainedAt.Location() != time.UTC {
			t.Errorf("%s: Publish = %+v, want credits %s, version v7, trained_at %s UTC", tt.name, m, tt.want, at)
		}
	}
	if _, err := Publish("markov", "channel", "v", at, []Credit{{Channel: "A"}}); err == nil {
		t.Error("Publish of no credit: want an error")
	}
	if _, err := Publish("markov", "channel", "", at, []Credit{{Channel: "A", Share: 1}}); err == nil {
		t.Error("Publish without a version: want an error")
	}
}

// The publish step end to end: the command trains on ClickHouse's paths
// and publishes; the attribute stage's loader reads back the same model,
// which pays touches by it.
func TestCommandPublishRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, dsn := testenv.ClickHouse(t, "datadriven_test", true)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO referral_events (event_id, event_type, partner_id, lead_id, occurred_at, occurred_at_ms, channel)")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	// TestHandComputed's paths: L1 A→B→conv, L2 A→null, L3 B→null.
	for i, row := range [][]string{
		{"e1", schemas.TypeReferralCreated, "L1", "A"},
		{"e2", schemas.TypeReferralCreated, "L1", "B"},
		{"e3", schemas.TypePolicyIssued, "L1", ""},
		{"e4", schemas.TypeReferralCreated, "L2", "A"},
		{"e5", schemas.TypeReferralCreated, "L3", "B"},
	} {
		ts := at.Add(time.Duration(i) * time.Minute)
		if err := b.Append(row[0], row[1], "acme", row[2], ts, uint64(ts.UnixMilli()), row[3]); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ method, want, weights string }{
		{"markov", "[{A 3333} {B 6667}]", "[3333 6667]"},
		{"shapley", "[{A 5000} {B 5000}]", "[5000 5000]"},
	} {
		path := filepath.Join(t.TempDir(), tt.method+".json")
		args := []string{"datadriven", "--clickhouse", dsn, "--store=false", "--publish", path, "--publish-method", tt.method,
			"--model-version", "2026-11-30." + tt.method}
		if err := Command(ctx, args, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		m, err := attribute.LoadTrainedModel(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(m.Credits); got != tt.want || m.Method != tt.method || m.Version != "2026-11-30."+tt.method || m.Dimension != "channel" {
			t.Errorf("%s: loaded %+v, want credits %s", tt.method, m, tt.want)
		}
		w, ok := m.Weigh([]attribute.Touch{{EventID: "x", Channel: "A"}, {EventID: "y", Channel: "B"}})
		if !ok || fmt.Sprint(w) != tt.weights {
			t.Errorf("%s: loaded model weighs A, B as %v, %v", tt.method, w, ok)
		}
	}
}
