package attribute

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/rediscfg"
	"github.com/reftrack/reftrack/internal/worker"
)

// App wires attribute into worker.Main.
type App struct {
	Redis      rediscfg.Config
	cfg        Config
	byLine     string
	excluded   string
	positions  string
	trained    string
	reloadEach time.Duration
}

// RegisterFlags implements worker.App.
func (a *App) RegisterFlags(fs *flag.FlagSet) {
	a.Redis.RegisterFlags(fs)
	d := DefaultParams()
	fs.DurationVar(&a.cfg.Lookback, "lookback", 90*24*time.Hour, "how far before a conversion a touchpoint still counts")
	fs.DurationVar(&a.cfg.Grace, "grace", 7*24*time.Hour, "how long after a conversion reached ingest a late touchpoint still re-attributes it")
	fs.DurationVar(&a.cfg.KeepConversions, "keep-conversions", 800*24*time.Hour, "how long conversions are remembered so cancellations can be clawed back")
	fs.IntVar(&a.cfg.MaxTouches, "max-touches", 100, "touchpoints kept per lead; the oldest beyond are pruned")
	fs.DurationVar(&a.cfg.Params.HalfLife, "half-life", d.HalfLife, "time-decay half-life")
	fs.StringVar(&a.positions, "position-shares", "40/20/40", "position-based shares in percent: first/middle/last")
	fs.StringVar(&a.cfg.PaidModel, "paid-model", LastTouch, "model commissions are paid by: "+strings.Join(paidModelNames(), ", "))
	fs.StringVar(&a.byLine, "paid-model-by-line", "", "per product line paid models, e.g. life=linear,home=position_based")
	fs.StringVar(&a.excluded, "exclude-referrer-types", "", "comma-separated referrer types never credited, e.g. customer")
	fs.StringVar(&a.trained, "datadriven-model", "", "trained model file (from datadriven --publish) paying as markov or shapley; validated at start, new versions swapped in (see --datadriven-reload)")
	fs.DurationVar(&a.reloadEach, "datadriven-reload", 2*time.Second, "how often the trained model file is checked for a new version (0 disables hot reload)")
	fs.StringVar(&a.cfg.DataDrivenFallback, "datadriven-fallback", LastTouch,
		"model paying a conversion none of whose channels the trained model credits: "+strings.Join(ModelNames, ", "))
}

// paidModelNames lists what --paid-model may name.
func paidModelNames() []string { return append(slices.Clone(ModelNames), DataDrivenNames...) }

// Validate implements worker.App. It changes nothing: Start builds the
// same configuration again with config.
func (a *App) Validate() error {
	_, err := a.config()
	return errors.Join(a.Redis.Validate(), err)
}

// config is the stage's Config built from the flags, or every problem
// with them.
func (a *App) config() (Config, error) {
	var errs []error
	c := a.cfg
	if c.Lookback < time.Hour {
		errs = append(errs, fmt.Errorf("--lookback %s: must be at least 1h", c.Lookback))
	}
	if c.Grace < 0 {
		errs = append(errs, fmt.Errorf("--grace %s: must not be negative", c.Grace))
	}
	if c.MaxTouches < 1 || c.MaxTouches > 1000 {
		errs = append(errs, fmt.Errorf("--max-touches %d: must be within 1..1000", c.MaxTouches))
	}
	if _, err := fmt.Sscanf(a.positions, "%d/%d/%d", &c.Params.First, &c.Params.Middle, &c.Params.Last); err != nil {
		errs = append(errs, fmt.Errorf("--position-shares %q: want first/middle/last", a.positions))
	} else if err := c.Params.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--half-life/--position-shares: %w", err))
	}
	if !slices.Contains(paidModelNames(), c.PaidModel) {
		errs = append(errs, fmt.Errorf("--paid-model %q: unknown model", c.PaidModel))
	}
	c.PaidModelByLine = map[string]string{}
	for _, kv := range strings.Split(a.byLine, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		line, model, ok := strings.Cut(kv, "=")
		if !ok || !slices.Contains(paidModelNames(), model) {
			errs = append(errs, fmt.Errorf("--paid-model-by-line: %q is not line=model with a known model", kv))
			continue
		}
		c.PaidModelByLine[line] = model
	}
	c.ExcludeReferrers = nil
	for _, t := range strings.Split(a.excluded, ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.ExcludeReferrers = append(c.ExcludeReferrers, t)
		}
	}
	dd, err := a.trainedModel(c)
	c.DataDriven = dd
	errs = append(errs, err)
	return c, errors.Join(errs...)
}

// trainedModel loads --datadriven-model and checks that it is there when
// c pays by a data-driven model, and of that model's method.
func (a *App) trainedModel(c Config) (*TrainedModel, error) {
	var errs []error
	if a.reloadEach < 0 {
		errs = append(errs, fmt.Errorf("--datadriven-reload %s: must not be negative", a.reloadEach))
	}
	if !slices.Contains(ModelNames, c.DataDrivenFallback) {
		errs = append(errs, fmt.Errorf("--datadriven-fallback %q: want one of %s", c.DataDrivenFallback, strings.Join(ModelNames, ", ")))
	}
	var m *TrainedModel
	if a.trained != "" {
		loaded, err := LoadTrainedModel(a.trained)
		if err != nil {
			errs = append(errs, fmt.Errorf("--datadriven-model: %w", err))
		} else {
			m = &loaded
		}
	}
	paying := slices.Compact(slices.Sorted(maps.Values(c.PaidModelByLine)))
	if !slices.Contains(paying, c.PaidModel) {
		paying = append([]string{c.PaidModel}, paying...)
	}
	for _, paid := range paying {
		switch {
		case !slices.Contains(DataDrivenNames, paid):
		case a.trained == "":
			errs = append(errs, fmt.Errorf("paid model %s: needs --datadriven-model", paid))
		case m != nil && m.Method != paid:
			errs = append(errs, fmt.Errorf("paid model %s: --datadriven-model %s holds a %s model", paid, a.trained, m.Method))
		}
	}
	return m, errors.Join(errs...)
}

// Start implements worker.App.
func (a *App) Start(ctx context.Context, log *slog.Logger, reg *prometheus.Registry) (worker.Processor, func(), error) {
	cfg, err := a.config()
	if err != nil {
		return nil, nil, err
	}
	rdb, err := a.Redis.Connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	at := &Attributor{Redis: rdb, Prefix: a.Redis.KeyPrefix, Config: cfg, Metrics: NewMetrics(reg)}
	wctx, cancel := context.WithCancel(ctx)
	if m := cfg.DataDriven; m != nil {
		at.UseTrained(m)
		log.Info("trained model loaded", "method", m.Method, "version", m.Version, "trained_at", m.TrainedAt, "channels", len(m.Credits))
		if a.reloadEach > 0 {
			go at.WatchTrained(wctx, a.trained, a.reloadEach, log)
		}
	}
	return at, func() { cancel(); _ = rdb.Close() }, nil
}
