package commission

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

// App wires commission into worker.Main.
type App struct {
	Redis      rediscfg.Config
	RulesPath  string
	ReloadEach time.Duration
	KeepPaid   time.Duration

	// LicencesPath and FXRatesPath are optional reference data files,
	// checked at Start and reloaded like the rules.
	LicencesPath string
	FXRatesPath  string
}

// RegisterFlags implements worker.App.
func (a *App) RegisterFlags(fs *flag.FlagSet) {
	a.Redis.RegisterFlags(fs)
	fs.StringVar(&a.RulesPath, "rules", "", "path of the commission rule-set JSON file (schema: schemas/jsonschema/commission-rules.v1.json)")
	fs.StringVar(&a.LicencesPath, "licences", "", "path of the licence registry JSON file (payee licences, appointments, payout currency); none: no licence check, no FX")
	fs.StringVar(&a.FXRatesPath, "fx-rates", "", "path of the FX rates JSON file (rate, source, as-of per currency pair) for payees paid in another currency")
	fs.DurationVar(&a.ReloadEach, "rules-reload", 2*time.Second, "how often the rule file is checked for changes (0 disables hot reload)")
	fs.DurationVar(&a.KeepPaid, "keep-paid", 3*365*24*time.Hour, "how long an attribution's paid state (its lines, what was clawed back) is remembered for clawbacks and corrections; longer than any chargeback window")
}

// Validate implements worker.App; the rule file itself is checked at Start,
// so every rule problem is reported with its rule id.
func (a *App) Validate() error {
	errs := []error{a.Redis.Validate()}
	if a.RulesPath == "" {
		errs = append(errs, errors.New("--rules: a rule-set file is required"))
	}
	if a.ReloadEach < 0 {
		errs = append(errs, fmt.Errorf("--rules-reload %s: must not be negative", a.ReloadEach))
	}
	if a.FXRatesPath != "" && a.LicencesPath == "" {
		errs = append(errs, errors.New("--fx-rates: needs --licences, which says who is paid in which currency"))
	}
	if a.KeepPaid < 24*time.Hour {
		errs = append(errs, fmt.Errorf("--keep-paid %s: must be at least a day", a.KeepPaid))
	}
	return errors.Join(errs...)
}

// Start implements worker.App.
func (a *App) Start(ctx context.Context, log *slog.Logger, reg *prometheus.Registry) (worker.Processor, func(), error) {
	rs, err := LoadRules(a.RulesPath)
	if err != nil {
		return nil, nil, err
	}
	rdb, err := a.Redis.Connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	c := &Calculator{Redis: rdb, Prefix: a.Redis.KeyPrefix, Keep: a.KeepPaid, Metrics: NewMetrics(reg)}
	c.Use(rs)
	log.Info("rules loaded", "version", rs.Version, "rules", len(rs.Rules))
	if err := a.loadReference(c, log); err != nil {
		_ = rdb.Close()
		return nil, nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	if a.ReloadEach > 0 {
		go c.Watch(wctx, a.RulesPath, a.ReloadEach, log)
		a.watchReference(wctx, c, log)
	}
	return c, func() { cancel(); _ = rdb.Close() }, nil
}
