package attribute

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

// App wires attribute into worker.Main.
type App struct {
	Redis     rediscfg.Config
	Lookback  time.Duration
	PaidModel string
}

// RegisterFlags implements worker.App.
func (a *App) RegisterFlags(fs *flag.FlagSet) {
	a.Redis.RegisterFlags(fs)
	fs.DurationVar(&a.Lookback, "lookback", 90*24*time.Hour, "how far before a conversion a touchpoint still counts")
	fs.StringVar(&a.PaidModel, "paid-model", "last_touch", "attribution model commissions are paid by")
}

// Validate implements worker.App.
func (a *App) Validate() error {
	errs := []error{a.Redis.Validate()}
	if a.Lookback < time.Hour {
		errs = append(errs, fmt.Errorf("--lookback %s: must be at least 1h", a.Lookback))
	}
	if _, ok := Models[a.PaidModel]; !ok {
		errs = append(errs, fmt.Errorf("--paid-model %q: unknown model", a.PaidModel))
	}
	return errors.Join(errs...)
}

// Start implements worker.App.
func (a *App) Start(ctx context.Context, _ *slog.Logger, reg *prometheus.Registry) (worker.Processor, func(), error) {
	rdb, err := a.Redis.Connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	at := &Attributor{Redis: rdb, Prefix: a.Redis.KeyPrefix, Lookback: a.Lookback, PaidModel: a.PaidModel, Metrics: NewMetrics(reg)}
	return at, func() { _ = rdb.Close() }, nil
}
