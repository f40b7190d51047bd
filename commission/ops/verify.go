package ops

import (
	"context"
	"flag"
	"io"
	"os"

	"github.com/reftrack/reftrack/commission/audit"
	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/worker"
)

// Verify is the verify command: it recomputes the hash chains of the
// commission journal from ClickHouse (commission_entries FINAL, per chain in
// chain_seq order) and names the first broken link of each chain: the entry,
// the field, what the chain expects and what is stored. It exits non-zero
// when a chain is broken. See package audit for what the chain does and does
// not show.
func Verify(ctx context.Context, args []string, getenv func(string) string) error {
	return verify(ctx, args, getenv, os.Stdout)
}

func verify(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	dsn := fs.String("clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN of the sink's database")
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	conn, err := cli.OpenClickHouse(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	entries, err := audit.Read(ctx, conn)
	if err != nil {
		return err
	}
	return audit.Check(out, entries)
}
