package ingest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/ingest/auth"
	"github.com/reftrack/reftrack/internal/testenv"
)

// TestGetReferral reads from the real ClickHouse, migrated with the
// embedded migrations, and checks who may see what.
func TestGetReferral(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, _ := testenv.ClickHouse(t, "ingest_test", true)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO referral_events (event_id, event_type, partner_id, lead_id, occurred_at, occurred_at_ms, referrer_id, referrer_type, channel, status)")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for i, row := range [][]string{
		{"e1", "referral.created", "acme", "L1", "a-1", "agent", "crm", ""},
		{"e2", "referral.status_updated", "acme", "L1", "", "", "", "quoted"},
		{"e3", "referral.created", "beta", "L2", "a-2", "agent", "web", ""},
		// beta uses lead id L1 too (issue #11): another lead, another agent.
		{"e4", "referral.created", "beta", "L1", "a-2", "agent", "web", ""},
		{"e5", "referral.status_updated", "beta", "L1", "", "", "", "lost"},
		// a-1 referred lead L3 through both partners.
		{"e6", "referral.created", "acme", "L3", "a-1", "agent", "crm", ""},
		{"e7", "referral.created", "beta", "L3", "a-1", "agent", "web", ""},
	} {
		ts := at.Add(time.Duration(i) * time.Minute)
		if err := b.Append(row[0], row[1], row[2], row[3], ts, uint64(ts.UnixMilli()), row[4], row[5], row[6], row[7]); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	v, err := auth.New(ctx, auth.Config{Issuer: testIssuer, Audience: "reftrack-ingest", HS256Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	api := &API{Now: time.Now, Auth: v, ClickHouse: conn, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry())}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	get := func(authz, lead string) (int, string) {
		status, b, _ := do(t, srv, http.MethodGet, "/v1/referrals/"+lead, authz, "", "")
		return status, b
	}
	agent := token(t, auth.RoleAgent, "") // a-1
	tests := []struct {
		name, authz, lead string
		status            int
		want, absent      string // absent: what the caller must not see ("" checks nothing)
	}{
		{"owner partner", token(t, auth.RolePartner, "acme"), "L1", 200, `"status":"quoted"`, `"partner_id":"beta"`},
		{"same lead id, other partner", token(t, auth.RolePartner, "beta"), "L1", 200, `"status":"lost"`, `"partner_id":"acme"`},
		{"cross-partner read", token(t, auth.RolePartner, "gamma"), "L1", 404, "not_found", ""},
		{"agent who referred", agent, "L1", 200, `"referrer_id":"a-1"`, `"partner_id":"beta"`},
		{"agent who did not", agent, "L2", 404, "not_found", ""},
		{"agent through both partners", agent, "L3", 200, `"partner_id":"beta"`, ""},
		{"agent through both partners", agent, "L3", 200, `"partner_id":"acme"`, ""},
		{"admin", token(t, auth.RoleAdmin, ""), "L2", 200, `"partner_id":"beta"`, ""},
		{"admin sees every partner", token(t, auth.RoleAdmin, ""), "L1", 200, `"partner_id":"beta"`, ""},
		{"unknown lead", token(t, auth.RoleAdmin, ""), "L9", 404, "not_found", ""},
		{"no token", "", "L1", 401, "missing_token", ""},
	}
	for _, tt := range tests {
		s, body := get(tt.authz, tt.lead)
		if s != tt.status || !strings.Contains(body, tt.want) || (tt.absent != "" && strings.Contains(body, tt.absent)) {
			t.Errorf("%s: %d %s, want %d with %s and without %q", tt.name, s, body, tt.status, tt.want, tt.absent)
		}
	}
	api.ClickHouse = nil
	if s, _ := get(token(t, auth.RoleAdmin, ""), "L1"); s != 501 {
		t.Errorf("without ClickHouse: %d, want 501", s)
	}
}
