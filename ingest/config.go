package ingest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// App wires ingest into worker.Main: the Kafka path as the stage's
// processor, the HTTP API as a Server beside it.
type App struct {
	Listen  string
	MaxBody int64
}

// RegisterFlags implements worker.App.
func (a *App) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&a.Listen, "listen", ":8080", "listen address of the partner HTTP API")
	fs.Int64Var(&a.MaxBody, "max-body", 1<<20, "largest accepted HTTP body in bytes")
}

// Validate implements worker.App.
func (a *App) Validate() error {
	var errs []error
	if a.Listen == "" {
		errs = append(errs, errors.New("--listen: must not be empty"))
	}
	if a.MaxBody < 1024 || a.MaxBody > 64<<20 {
		errs = append(errs, fmt.Errorf("--max-body %d: must be within 1 KiB..64 MiB", a.MaxBody))
	}
	return errors.Join(errs...)
}

// Start implements worker.App.
func (a *App) Start(context.Context, *slog.Logger, *prometheus.Registry) (worker.Processor, func(), error) {
	in := &Inbound{Now: time.Now}
	return worker.Func(in.Process), func() {}, nil
}

// Serve implements worker.Server: the HTTP API with its own producer.
func (a *App) Serve(ctx context.Context, cfg worker.Config, log *slog.Logger, reg *prometheus.Registry, _ *worker.Readiness) error {
	cl, err := worker.NewProducer(cfg, "ingest", log, reg)
	if err != nil {
		return err
	}
	defer cl.Close()
	api := &API{
		Producer: cl, Topic: cfg.Topic(schemas.TopicIngested), MaxBody: a.MaxBody,
		Now: time.Now, Log: log, Metrics: NewMetrics(reg),
	}
	return worker.Serve(ctx, a.Listen, api.Handler(), log)
}
