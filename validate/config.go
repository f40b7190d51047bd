package validate

import (
	"context"
	"flag"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas/validation"
)

// App wires the stage into the runtime; the schemas it checks against are
// compiled into the binary. Its one setting is validation's, registered by
// the validation package so that ingest's synchronous check reads events
// exactly as this stage does.
type App struct {
	Validation validation.Config
	// RequireSealed dead-letters clear contacts (--pii-require-sealed).
	RequireSealed bool
}

// RegisterFlags implements worker.App.
func (a *App) RegisterFlags(fs *flag.FlagSet) {
	a.Validation.RegisterFlags(fs)
	fs.BoolVar(&a.RequireSealed, "pii-require-sealed", false, "dead-letter (unsealed_contact) a referral whose lead contact is not sealed: on once every ingest runs --pii-mode seal")
}

// Validate implements worker.App.
func (a *App) Validate() error { return a.Validation.Validate() }

// Start implements worker.App.
func (a *App) Start(context.Context, *slog.Logger, *prometheus.Registry) (worker.Processor, func(), error) {
	v, err := validation.New(a.Validation)
	if err != nil {
		return nil, nil, err
	}
	if a.RequireSealed {
		return ProcessRequiringSealed(v), func() {}, nil
	}
	return Process(v), func() {}, nil
}
