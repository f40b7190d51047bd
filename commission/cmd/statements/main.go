// Command statements writes per-payee commission statements for a period
// (CSV and JSON per payee and currency, and summary.json) from ClickHouse,
// and checks that their totals reconcile with ClickHouse to the minor unit;
// it exits non-zero when they do not.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/reftrack/reftrack/commission/statement"
	"github.com/reftrack/reftrack/internal/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "statements:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("statements", flag.ContinueOnError)
	dsn := fs.String("clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN of the sink's database")
	since := fs.String("from", "", "first day of the period (UTC, YYYY-MM-DD)")
	until := fs.String("to", "", "day after the period (UTC, YYYY-MM-DD)")
	out := fs.String("out", "statements", "directory to write into")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	from, err1 := time.Parse("2006-01-02", *since)
	to, err2 := time.Parse("2006-01-02", *until)
	if err1 != nil || err2 != nil || !from.Before(to) {
		return fmt.Errorf("--from %q / --to %q: want YYYY-MM-DD with from < to", *since, *until)
	}
	opts, err := clickhouse.ParseDSN(*dsn)
	if err != nil {
		return fmt.Errorf("--clickhouse: %w", err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return fmt.Errorf("open clickhouse: %w", err)
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
	fmt.Printf("%d statements for %s .. %s in %s\n", len(ss), *since, *until, *out)
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
	return nil
}
