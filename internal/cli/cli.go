// Package cli holds what every reftrack command's main shares: signal
// handling and exit codes, a --from/--to period, opening ClickHouse.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// RunFunc is a command's body; only Main exits.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string) error

// Main runs run with a context cancelled by SIGINT or SIGTERM and exits
// non-zero with the error printed when it fails. -h is not a failure.
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Period is a half-open range of UTC days given as --from and --to.
type Period struct{ from, to string }

// Register adds --from and --to with the given defaults (YYYY-MM-DD).
func (p *Period) Register(fs *flag.FlagSet, from, to string) {
	fs.StringVar(&p.from, "from", from, "first day of the period (UTC, YYYY-MM-DD)")
	fs.StringVar(&p.to, "to", to, "day after the period (UTC, YYYY-MM-DD)")
}

// Parse returns the period's bounds.
func (p *Period) Parse() (time.Time, time.Time, error) {
	from, err1 := time.Parse(time.DateOnly, p.from)
	to, err2 := time.Parse(time.DateOnly, p.to)
	if err1 != nil || err2 != nil || !from.Before(to) {
		return time.Time{}, time.Time{}, fmt.Errorf("--from %q / --to %q: want YYYY-MM-DD with from < to", p.from, p.to)
	}
	return from, to, nil
}

// String renders the period for headings.
func (p *Period) String() string { return p.from + " .. " + p.to }

// OpenClickHouse connects to a DSN such as clickhouse://host:9000/reftrack.
func OpenClickHouse(ctx context.Context, dsn string) (driver.Conn, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("--clickhouse: %w", err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("reach clickhouse: %w", err)
	}
	return conn, nil
}
