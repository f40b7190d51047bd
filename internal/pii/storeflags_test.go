package pii

import (
	"flag"
	"io"
	"testing"

	"github.com/reftrack/reftrack/internal/rediscfg"
	"github.com/reftrack/reftrack/internal/worker"
)

// TestStoreFlagsAreTheirOwn: the key store's Redis is configured only by
// its own flags and environment, never by the stages' REFTRACK_REDIS, so
// an erase cannot land on the wrong Redis by inheritance.
func TestStoreFlagsAreTheirOwn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantAddr string
		wantDB   int
	}{
		{"defaults", nil, nil, "127.0.0.1:6379", 0},
		{"the stages' environment is ignored", nil, map[string]string{"REFTRACK_REDIS": "stages:6379", "REFTRACK_REDIS_DB": "3"}, "127.0.0.1:6379", 0},
		{"its own environment", nil, map[string]string{"REFTRACK_PII_REDIS": "keys:6379", "REFTRACK_PII_REDIS_DB": "1"}, "keys:6379", 1},
		{"its own flags win", []string{"--pii-redis", "flag:6379"}, map[string]string{"REFTRACK_PII_REDIS": "keys:6379"}, "flag:6379", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c rediscfg.Config
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			RegisterStoreFlags(fs, &c)
			if fs.Lookup("redis") != nil {
				t.Fatal("--redis registered: the stages' flag")
			}
			if err := worker.ParseFlags(fs, tt.args, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatal(err)
			}
			if c.Addr != tt.wantAddr || c.DB != tt.wantDB || c.KeyPrefix != "reftrack:" {
				t.Errorf("config %+v, want addr %s db %d prefix reftrack:", c, tt.wantAddr, tt.wantDB)
			}
		})
	}
}
