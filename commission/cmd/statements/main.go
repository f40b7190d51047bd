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
	"sort"

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
	return nil
}
