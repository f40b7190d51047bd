package datadriven

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// migrated returns a connection to a fresh database of the real ClickHouse
// with the embedded migrations applied; the database is dropped afterwards.
func migrated(t *testing.T) driver.Conn {
	t.Helper()
	conn, _ := testenv.ClickHouse(t, "datadriven_test", true)
	return conn
}

// TestReadPathsTenantScoped (issue #11): acme and beta both use lead id L;
// they are two leads, two paths, and only acme's converted.
func TestReadPathsTenantScoped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := migrated(t)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO referral_events (event_id, event_type, partner_id, lead_id, occurred_at, occurred_at_ms, channel)")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for i, row := range [][]string{
		{"e1", schemas.TypeReferralCreated, "acme", "L", "crm"},
		{"e1", schemas.TypeReferralCreated, "beta", "L", "web"}, // same event id too
		{"e3", schemas.TypePolicyIssued, "acme", "L", ""},
	} {
		ts := at.Add(time.Duration(i) * time.Minute)
		if err := b.Append(row[0], row[1], row[2], row[3], ts, uint64(ts.UnixMilli()), row[4]); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	paths, err := readPaths(ctx, conn, "channel", at.Add(-time.Hour), at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(paths), "[{[crm] true} {[web] false}]"; got != want {
		t.Errorf("paths %s, want %s (acme's converted crm path, beta's unconverted web path)", got, want)
	}
}
