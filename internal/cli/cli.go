// Package cli holds what every reftrack command's main shares: signal
// handling and exit codes (-h is success, decided once here), dispatch to
// subcommands, a --from/--to period, opening ClickHouse.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
	os.Exit(ExitCode(name, err, os.Stderr))
}

// ExitCode is a command's exit code for the error its run returned: 0 for
// none and for -h, else 1 with the error printed to stderr. A command's
// flag parsing returns flag.ErrHelp for -h and the command passes it up
// untouched; this is the one place that tells help from failure.
func ExitCode(name string, err error, stderr io.Writer) int {
	if err = IgnoreHelp(err); err == nil {
		return 0
	}
	fmt.Fprintln(stderr, name+":", err)
	return 1
}

// IgnoreHelp is err, or nil when it is (or wraps) flag.ErrHelp: -h printed
// what was asked for and succeeded.
func IgnoreHelp(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// Dispatch runs the subcommand args[1] names (args[0] is the command),
// passing it args[1:] so that it sees its own name first, as a command
// does. No subcommand or an unknown one is an error carrying usage, checked
// before any subcommand runs (a typo costs no round trip); -h prints usage
// to errOut and succeeds, and so does a subcommand's own -h.
func Dispatch(ctx context.Context, args []string, getenv func(string) string, errOut io.Writer, usage string, subs map[string]RunFunc) error {
	if len(args) < 2 {
		return fmt.Errorf("no subcommand\n%s", usage)
	}
	name := args[1]
	switch name {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(errOut, usage)
		return nil
	}
	run, ok := subs[name]
	if !ok {
		return fmt.Errorf("unknown subcommand %q\n%s", name, usage)
	}
	return IgnoreHelp(run(ctx, args[1:], getenv))
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
