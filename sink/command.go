package sink

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/reftrack/reftrack/internal/worker"
)

// MigrateCommand is `sink migrate` (and `reftrack migrate`): it applies the
// pending ClickHouse migrations and exits. args[0] is the command's name.
// It takes every flag the sink takes, so a deployment can run it with the
// sink's own flags and environment before the sinks start.
func MigrateCommand(ctx context.Context, args []string, getenv func(string) string) error {
	var cfg Config
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	opts, _ := cfg.Options() // checked by Validate
	return Migrate(ctx, opts, cfg.Worker.Logger(os.Stderr, "sink"))
}
