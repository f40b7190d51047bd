// Command statements writes per-payee commission statements, one per
// accounting period (CSV and JSON per payee, currency and period, and
// summary.json) from ClickHouse, and checks that their totals reconcile with
// ClickHouse to the minor unit; it exits non-zero when they do not. With
// --webhook-url it delivers the statements of closed periods only: a closed
// period never changes, so a re-run delivers the same statements under the
// same delivery ids, which the payout system pays once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/reftrack/reftrack/commission/payout"
	"github.com/reftrack/reftrack/commission/statement"
	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/worker"
)

func main() { cli.Main("statements", run) }

func run(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("statements", flag.ContinueOnError)
	dsn := fs.String("clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN of the sink's database")
	var period cli.Period
	period.Register(fs, "", "")
	out := fs.String("out", "statements", "directory to write into")
	hook := fs.String("webhook-url", "", "payout system to POST each statement to once they reconcile (empty: none)")
	hookSecret := fs.String("webhook-secret", "", "HMAC secret shared with the payout system, at least 32 bytes (prefer REFTRACK_WEBHOOK_SECRET)")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	from, to, err := period.Parse()
	if err != nil {
		return err
	}
	if *hook != "" && len(*hookSecret) < 32 {
		return errors.New("--webhook-secret: at least 32 bytes are required with --webhook-url")
	}
	conn, err := cli.OpenClickHouse(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	lines, err := statement.Read(ctx, conn, from, to)
	if err != nil {
		return err
	}
	ss, err := statement.Build(lines, from, to)
	if err != nil {
		return err
	}
	if err := statement.WriteDir(*out, ss); err != nil {
		return err
	}
	ledger, err := statement.Ledger(ctx, conn, from, to)
	if err != nil {
		return err
	}
	totals := statement.Totals(ss)
	fmt.Printf("%d statements for %s in %s\n", len(ss), period.String(), *out)
	var curs []string
	for c := range totals {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	for _, c := range curs {
		fmt.Printf("  %s %14d minor units\n", c, totals[c])
	}
	if diff := statement.Reconcile(totals, ledger); len(diff) > 0 {
		return fmt.Errorf("statements do not reconcile with ClickHouse: %v", diff)
	}
	fmt.Println("reconciled with ClickHouse to the minor unit")
	if *hook == "" {
		return nil
	}
	closed, err := statement.Closed(ctx, conn)
	if err != nil {
		return err
	}
	payable, open := statement.Payable(ss, closed)
	for _, s := range open {
		fmt.Printf("  not delivered: %s %s %s, period %s is not closed for every partner in it\n", s.PayeeType, s.PayeeID, s.Currency, s.Period)
	}
	delivered, err := payout.Delivered(ctx, conn)
	if err != nil {
		return err
	}
	send, skip, err := payout.Plan(payable, delivered)
	if err != nil {
		return err
	}
	// Only reconciled statements of closed periods are paid out, each
	// once: a delivered one is recorded and skipped on a re-run, and a
	// crash before the record re-sends the same delivery id and total.
	c := &payout.Client{URL: *hook, Secret: []byte(*hookSecret), HTTP: &http.Client{Timeout: 30 * time.Second},
		Now: time.Now, Attempts: 5, Backoff: time.Second}
	for _, s := range send {
		if err := c.Deliver(ctx, s); err != nil {
			return fmt.Errorf("statement of %s %s in %s for %s: %w", s.PayeeType, s.PayeeID, s.Currency, s.Period, err)
		}
		if err := payout.Record(ctx, conn, s, time.Now()); err != nil {
			return err
		}
	}
	fmt.Printf("delivered %d statements to %s (%d delivered before, %d of open periods held)\n", len(send), *hook, len(skip), len(open))
	return nil
}
