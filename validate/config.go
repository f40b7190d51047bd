package validate

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"github.com/nyaruka/phonenumbers"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/worker"
)

// App wires the stage into worker.Main; the schemas it checks against are
// compiled into the binary.
type App struct {
	PhoneRegion string
}

// RegisterFlags implements worker.App.
func (a *App) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&a.PhoneRegion, "phone-region", "US", "ISO 3166 region assumed for phone numbers without a country code")
}

// Validate implements worker.App.
func (a *App) Validate() error {
	if phonenumbers.GetCountryCodeForRegion(a.PhoneRegion) == 0 {
		return fmt.Errorf("--phone-region %q: want a two-letter region such as US or GB", a.PhoneRegion)
	}
	return nil
}

// Start implements worker.App.
func (a *App) Start(context.Context, *slog.Logger, *prometheus.Registry) (worker.Processor, func(), error) {
	v, err := NewValidator()
	if err != nil {
		return nil, nil, err
	}
	v.Normalize.PhoneRegion = a.PhoneRegion
	return worker.Func(v.Process), func() {}, nil
}
