package commission

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestReferenceHotReload (issue #18): the licence registry and the rates
// are checked at start (a broken file stops it) and reload like the rules:
// a new version takes effect, a broken one is refused, counted, and what
// runs stays.
func TestReferenceHotReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lic, fx := filepath.Join(dir, "licences.json"), filepath.Join(dir, "rates.json")
	write := func(path, body string) {
		t.Helper()
		if err := os.WriteFile(path+".tmp", []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	licences := func(version string) string {
		return fmt.Sprintf(`{"schema_version":1,"version":%q,"payees":{"agent:A":{"payout_currency":"EUR"}}}`, version)
	}
	rates := func(version, rate string) string {
		return fmt.Sprintf(`{"schema_version":1,"version":%q,"source":"s","rates":[{"from":"USD","to":"EUR","rate":%q,"as_of":"2026-01-01T00:00:00Z"}]}`, version, rate)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	write(lic, `{"schema_version":1,"version":"l0","payees":{"A":{}}}`)
	write(fx, rates("r1", "0.9"))
	a := &App{LicencesPath: lic, FXRatesPath: fx, ReloadEach: 10 * time.Millisecond}
	c := &Calculator{Metrics: NewMetrics(prometheus.NewRegistry())}
	if err := a.loadReference(c, log); err == nil || !strings.Contains(err.Error(), "type:id") {
		t.Fatalf("a broken registry at start: %v", err)
	}
	write(lic, licences("l1"))
	if err := a.loadReference(c, log); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	a.watchReference(ctx, c, log)

	waitFor := func(what string, done func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !done(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s never happened", what)
			}
		}
	}
	write(lic, licences("l2"))
	write(fx, rates("r2", "0.95"))
	waitFor("licences l2", func() bool { return c.Licences.Load().Version == "l2" })
	waitFor("rates r2", func() bool { return c.FXRates.Load().Version == "r2" })
	write(fx, rates("r3", "-1"))
	waitFor("refused rates", func() bool {
		return testutil.ToFloat64(c.Metrics.dataReloads.WithLabelValues("fx_rates", "refused")) == 1
	})
	if v := c.FXRates.Load().Version; v != "r2" {
		t.Errorf("after a broken rates file: %s in force, want r2", v)
	}
	if n := testutil.ToFloat64(c.Metrics.dataReloads.WithLabelValues("licences", "ok")); n != 1 {
		t.Errorf("licence reloads ok = %v, want 1", n)
	}
}

// TestValidateReferenceFlags: rates without a registry say nobody's payout
// currency, so the configuration is refused.
func TestValidateReferenceFlags(t *testing.T) {
	t.Parallel()
	a := &App{RulesPath: "r.json", FXRatesPath: "fx.json", KeepPaid: 48 * time.Hour}
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "--fx-rates") {
		t.Errorf("Validate: %v", err)
	}
}
