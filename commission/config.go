package commission

import (
	"context"
	"errors"
	"flag"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/worker"
)

// App wires commission into worker.Main.
type App struct {
	RulesPath string
}

// RegisterFlags implements worker.App.
func (a *App) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&a.RulesPath, "rules", "", "path of the commission rule-set JSON file")
}

// Validate implements worker.App; the file itself is checked at Start so
// that every rule problem is reported with its rule id.
func (a *App) Validate() error {
	if a.RulesPath == "" {
		return errors.New("--rules: a rule-set file is required")
	}
	return nil
}

// Start implements worker.App.
func (a *App) Start(_ context.Context, log *slog.Logger, _ *prometheus.Registry) (worker.Processor, func(), error) {
	rs, err := LoadRules(a.RulesPath)
	if err != nil {
		return nil, nil, err
	}
	c := &Calculator{}
	c.Rules.Store(rs)
	log.Info("rules loaded", "version", rs.Version, "rules", len(rs.Rules))
	return worker.Func(c.Process), func() {}, nil
}
