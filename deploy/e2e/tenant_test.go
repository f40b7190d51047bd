package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/deploy/sample"
	"github.com/reftrack/reftrack/schemas"
)

// TestTenantIsolation is issue #11's end-to-end proof: two partners use the
// same lead ids, and many of the second partner's events carry event ids
// (and idempotency keys) the first partner used for the same lead. Every
// table must hold exactly the oracle's rows, every payee exactly the
// oracle's money per currency, and no referrer of one partner may have a
// line on the other partner's lead of the same id.
func TestTenantIsolation(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := startPipeline(ctx, t)
	defer p.st.Stop()

	rules, err := sample.LoadRules(p.rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	opts := sample.DefaultOptions()
	opts.Events, opts.Seed = 2_000, 11
	opts.Partners = []string{"acme-crm", "bestquote"}
	opts.SharedLeadFraction, opts.SharedEventIDFraction = 0.8, 0.6
	ds, err := sample.Generate(opts, rules)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sending %d records: %d unique, %d duplicates, %d invalid, %d policies; %d lead ids and %d event ids used by both partners",
		len(ds.Records), ds.Want.ReferralEvents, ds.Want.Duplicates, ds.Want.Rejected, ds.Want.Policies,
		ds.Want.SharedLeads, ds.Want.SharedEventIDs)

	cl, err := kgo.NewClient(kgo.SeedBrokers(p.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	authz, err := devstack.AdminToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := sample.Send(ctx, ds, cl, p.prefix+schemas.TopicInbound, p.st.IngestURL, authz); err != nil {
		t.Fatal(err)
	}
	landed, diff := settle(ctx, p.conn, &ds.Want, 2*time.Minute)
	if landed != nil {
		if s := ds.Want.Strangers(landed); len(s) > 0 {
			t.Errorf("%d payees have lines on a partner's lead they never referred (the other partner's lead of that id):\n%s",
				len(s), strings.Join(s[:min(len(s), 20)], "\n"))
		}
	}
	if len(diff) > 0 {
		dumpLogs(t, p.logDir)
		t.Fatalf("ClickHouse disagrees with the oracle in %d ways:\n%s", len(diff), strings.Join(diff[:min(len(diff), 40)], "\n"))
	}
}
