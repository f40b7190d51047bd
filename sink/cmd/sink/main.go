// Command sink lands referrals.unique, attributions, commissions and
// referrals.rejected in ClickHouse. `sink migrate` only applies migrations.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"golang.org/x/sync/errgroup"

	"github.com/reftrack/reftrack/internal/cli"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/sink"
)

func main() { cli.Main("sink", run) }

func run(ctx context.Context, args []string, getenv func(string) string) error {
	if len(args) > 1 && args[1] == "migrate" {
		return sink.MigrateCommand(ctx, args[1:], getenv)
	}
	var cfg sink.Config
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := worker.ParseFlags(fs, args[1:], getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("parse flags: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	log := cfg.Worker.Logger(os.Stderr, "sink")
	opts, _ := cfg.Options() // checked by Validate
	if cfg.Migrate {
		if err := sink.Migrate(ctx, opts, log); err != nil {
			return err
		}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return fmt.Errorf("open clickhouse: %w", err)
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse: %w", err)
	}
	reg := worker.NewRegistry()
	ready := &worker.Readiness{}
	store := &sink.Store{Conn: conn, TopicPrefix: cfg.Worker.TopicPrefix, Metrics: sink.NewMetrics(reg), Now: time.Now}
	topics := []string{schemas.TopicUnique, schemas.TopicAttributions, schemas.TopicCommissions, schemas.TopicRejected}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return worker.Serve(gctx, cfg.Worker.OpsAddr, cfg.Worker.Ops(reg, ready), log) })
	g.Go(func() error { ready.Watch(gctx, worker.ReadinessInterval); return nil })
	g.Go(func() error {
		err := worker.RunStore(gctx, cfg.Worker, "sink", topics, store, cfg.FlushInterval, log, reg, ready)
		if err != nil {
			log.Error("sink failed", "err", err)
		}
		return err
	})
	return g.Wait()
}
