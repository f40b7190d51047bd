package commission

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"time"
)

// loadReference loads the licence registry and the FX rates when
// configured: a file that does not load stops the start, as the rules do.
func (a *App) loadReference(c *Calculator, log *slog.Logger) error {
	if a.LicencesPath != "" {
		l, err := LoadLicences(a.LicencesPath)
		if err != nil {
			return err
		}
		c.Licences.Store(l)
		log.Info("licences loaded", "version", l.Version, "payees", len(l.Payees))
	}
	if a.FXRatesPath != "" {
		r, err := LoadRates(a.FXRatesPath)
		if err != nil {
			return err
		}
		c.FXRates.Store(r)
		log.Info("fx rates loaded", "version", r.Version, "rates", len(r.Rates))
	}
	return nil
}

// watchReference hot-reloads the configured reference files.
func (a *App) watchReference(ctx context.Context, c *Calculator, log *slog.Logger) {
	if a.LicencesPath != "" {
		running := func() string { return c.Licences.Load().Hash }
		go c.watchFile(ctx, "licences", a.LicencesPath, a.ReloadEach, log, running, func(b []byte) (string, error) {
			l, err := ParseLicences(b)
			if err != nil {
				return "", err
			}
			c.Licences.Store(l)
			return l.Version, nil
		})
	}
	if a.FXRatesPath != "" {
		running := func() string { return c.FXRates.Load().Hash }
		go c.watchFile(ctx, "fx_rates", a.FXRatesPath, a.ReloadEach, log, running, func(b []byte) (string, error) {
			r, err := ParseRates(b)
			if err != nil {
				return "", err
			}
			c.FXRates.Store(r)
			return r.Version, nil
		})
	}
}

// watchFile is Watch for a reference file: it re-reads path every interval
// and hands bytes whose hash differs from the running one's (running) to
// apply, which swaps in what they parse to or refuses them (logged and
// counted once per refused content; what runs stays).
func (c *Calculator) watchFile(ctx context.Context, name, path string, interval time.Duration, log *slog.Logger,
	running func() string, apply func([]byte) (string, error)) {
	refused := ""
	pollFile(ctx, path, interval, log, name, func(b []byte) {
		hash := contentHash(b)
		if hash == running() || hash == refused {
			return
		}
		version, err := apply(b)
		if err != nil {
			refused = hash
			c.Metrics.dataReloads.WithLabelValues(name, "refused").Inc()
			log.Error("new reference file refused, keeping the running one", "file", name, "path", path, "err", err)
			return
		}
		c.Metrics.dataReloads.WithLabelValues(name, "ok").Inc()
		log.Info("reference file reloaded", "file", name, "version", version)
	})
}

// contentHash is how Licences.Hash and Rates.Hash name a file's content.
func contentHash(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%x", sum[:8])
}
