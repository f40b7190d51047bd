// Command demo pushes a generated sample through a running reftrack stack
// (part over Kafka, part over the HTTP API), waits until ClickHouse holds
// exactly what the sample's oracle says it must, and prints what landed. It
// exits non-zero when the data does not agree by the deadline.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/deploy/devstack"
	"github.com/reftrack/reftrack/deploy/sample"
	"github.com/reftrack/reftrack/ingest/auth"
	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/devports"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

func main() { cli.Main("demo", run) }

func run(ctx context.Context, args []string, getenv func(string) string) error {
	opts := sample.DefaultOptions()
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.IntVar(&opts.Events, "events", opts.Events, "records to send, duplicates and invalid ones included")
	fs.Uint64Var(&opts.Seed, "seed", uint64(time.Now().UnixNano()), "generator seed (the same seed makes the same sample)")
	fs.Float64Var(&opts.SharedLeadFraction, "shared-leads", opts.SharedLeadFraction, "share of lead ids a second partner uses too, for a lead of its own")
	fs.Float64Var(&opts.SharedEventIDFraction, "shared-event-ids", opts.SharedEventIDFraction, "share of such a second lead's events reusing the first partner's event ids")
	brokers := fs.String("brokers", devports.Loopback(devports.Broker), "Kafka seed brokers")
	prefix := fs.String("topic-prefix", "", "topic prefix of the stack")
	api := fs.String("ingest-url", "http://"+devports.Loopback(devports.API), "base URL of the ingest HTTP API")
	dsn := fs.String("clickhouse", "clickhouse://"+devports.Loopback(devports.ClickHouseTCP)+"/reftrack", "ClickHouse DSN of the sink's database")
	rulesPath := fs.String("rules", "deploy/dev/rules.json", "the commission rules the stack runs with")
	licences := fs.String("licences", "", "commission's licence registry (issue #18: with it the sample has v2 policies, renewals, unlicensed and banned referrers)")
	fxRates := fs.String("fx-rates", "", "commission's FX rates (needs --licences)")
	wait := fs.Duration("wait", 3*time.Minute, "how long to wait for everything to land")
	secret := fs.String("jwt-hs256-secret", devstack.DevJWTSecret, "HS256 secret to sign the demo's admin token (as ingest's --jwt-hs256-secret)")
	issuer := fs.String("jwt-issuer", devstack.DevJWTIssuer, "issuer of the demo's token (as ingest's --jwt-issuer)")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	rules, err := sample.LoadRules(*rulesPath)
	if err != nil {
		return err
	}
	if *licences != "" {
		if opts.Reference, err = sample.LoadReference(*licences, *fxRates); err != nil {
			return err
		}
	}
	ds, err := sample.Generate(opts, rules)
	if err != nil {
		return err
	}
	chOpts, err := clickhouse.ParseDSN(*dsn)
	if err != nil {
		return fmt.Errorf("--clickhouse: %w", err)
	}
	conn, err := clickhouse.Open(chOpts)
	if err != nil {
		return fmt.Errorf("open clickhouse: %w", err)
	}
	defer conn.Close()
	before, err := sample.ReadLanded(ctx, conn)
	if err != nil {
		return fmt.Errorf("read clickhouse before sending (is the sink running and migrated?): %w", err)
	}
	want := ds.Want.Plus(before)

	cl, err := kgo.NewClient(kgo.SeedBrokers(*brokers), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	start := time.Now()
	fmt.Printf("sending %d records (%d duplicates, %d invalid) for %d policies, seed %d;\n"+
		"%d lead ids and %d event ids are used by two partners, whose leads and money must stay apart\n",
		len(ds.Records), ds.Want.Duplicates, ds.Want.Rejected, ds.Want.Policies, opts.Seed, ds.Want.SharedLeads, ds.Want.SharedEventIDs)
	if opts.Reference != nil {
		fmt.Printf("%d renewals and %d monthly installments (%d policies cancelled mid-installment) paid to the agent of record, %d accruals to referrers unlicensed in the policy's jurisdiction, %d to agents not appointed by its carrier, "+
			"%d held by name (%d self-referrals), %d paid out in another currency\n",
			ds.Want.Renewals, ds.Want.Installments, ds.Want.InstallmentsCancelled, ds.Want.Unlicensed, ds.Want.NotAppointed, ds.Want.Held, ds.Want.SelfReferrals, ds.Want.Converted)
	}
	tok, err := auth.Sign([]byte(*secret), *issuer, "reftrack-ingest", auth.Claims{Role: auth.RoleAdmin}, time.Hour)
	if err != nil {
		return err
	}
	if err := sample.Send(ctx, ds, cl, *prefix+schemas.TopicInbound, *api, "Bearer "+tok); err != nil {
		return err
	}
	fmt.Printf("sent in %s; waiting for ClickHouse\n", time.Since(start).Round(time.Millisecond))

	deadline := time.Now().Add(*wait)
	var landed *sample.Landed
	var diff []string
	for {
		landed, err = sample.ReadLanded(ctx, conn)
		if err != nil {
			return err
		}
		if diff = want.Diff(landed); len(diff) == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	fmt.Printf("landed after %s\n\n", time.Since(start).Round(time.Millisecond))
	landed.Print(os.Stdout)
	if len(diff) > 0 {
		b, _ := json.MarshalIndent(diff, "", "  ")
		return fmt.Errorf("ClickHouse disagrees with the sample's oracle after %s:\n%s", *wait, b)
	}
	fmt.Println("\nevery count and every cent matches the oracle computed from the generated input")
	return nil
}
