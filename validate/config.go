package validate

import (
	"context"
	"flag"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/worker"
)

// App wires the stage into worker.Main. validate has no flags of its own yet:
// the schemas it checks against are compiled into the binary.
type App struct{}

// RegisterFlags implements worker.App.
func (*App) RegisterFlags(*flag.FlagSet) {}

// Validate implements worker.App.
func (*App) Validate() error { return nil }

// Start implements worker.App.
func (*App) Start(context.Context, *slog.Logger, *prometheus.Registry) (worker.Processor, func(), error) {
	v, err := NewValidator()
	if err != nil {
		return nil, nil, err
	}
	return worker.Func(v.Process), func() {}, nil
}
