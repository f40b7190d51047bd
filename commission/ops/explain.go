package ops

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/reftrack/reftrack/commission/audit"
	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// Explain is the explain command: it prints the derivation of one commission
// journal entry as a payee would be shown it, from the entry's stored "why"
// fields in ClickHouse: attribution model, version and credit; rule set,
// rule, base, rate, bands, minimum and cap; rounding residue; and what it
// corrects, down to the accrual. Usage: explain [--clickhouse DSN] [--output
// table|json] <entry id>.
func Explain(ctx context.Context, args []string, getenv func(string) string) error {
	return explain(ctx, args, getenv, os.Stdout)
}

func explain(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	dsn := fs.String("clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN of the sink's database")
	format := fs.String("output", "table", "table or json")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if fs.NArg() != 1 || (*format != "table" && *format != "json") {
		return fmt.Errorf("usage: explain [--clickhouse DSN] [--output table|json] <entry id>")
	}
	conn, err := cli.OpenClickHouse(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	x, err := audit.Explain(fs.Arg(0), func(id string) (schemas.JournalEntry, error) { return audit.ReadEntry(ctx, conn, id) })
	if err != nil {
		return err
	}
	if *format == "json" {
		return x.WriteJSON(out)
	}
	return x.WriteTable(out)
}
