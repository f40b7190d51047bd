package dedupe

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/rediscfg"
	"github.com/reftrack/reftrack/internal/worker"
)

// App wires dedupe into worker.Main.
type App struct {
	Redis rediscfg.Config
	TTL   time.Duration
}

// RegisterFlags implements worker.App.
func (a *App) RegisterFlags(fs *flag.FlagSet) {
	a.Redis.RegisterFlags(fs)
	fs.DurationVar(&a.TTL, "dedupe-ttl", 7*24*time.Hour, "how long a dedupe claim and a lead's status are remembered; a copy arriving later is left to ClickHouse's backstop")
}

// Validate implements worker.App.
func (a *App) Validate() error {
	var errs []error
	errs = append(errs, a.Redis.Validate())
	if a.TTL < time.Minute {
		errs = append(errs, fmt.Errorf("--dedupe-ttl %s: must be at least 1m", a.TTL))
	}
	return errors.Join(errs...)
}

// Start implements worker.App.
func (a *App) Start(ctx context.Context, _ *slog.Logger, reg *prometheus.Registry) (worker.Processor, func(), error) {
	rdb, err := a.Redis.Connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	d := &Deduper{Redis: rdb, Prefix: a.Redis.KeyPrefix, TTL: a.TTL, Metrics: NewMetrics(reg)}
	return d, func() { _ = rdb.Close() }, nil
}
