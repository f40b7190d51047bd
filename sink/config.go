package sink

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/reftrack/reftrack/internal/worker"
)

// Config of the sink.
type Config struct {
	Worker        worker.Config
	ClickHouse    string
	Migrate       bool
	FlushInterval time.Duration
}

// RegisterFlags registers the runtime's and the sink's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Worker.RegisterFlags(fs, "sink")
	fs.StringVar(&c.ClickHouse, "clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN (clickhouse://user:password@host:port/database?secure=true)")
	fs.BoolVar(&c.Migrate, "migrate", true, "apply pending ClickHouse migrations at start")
	fs.DurationVar(&c.FlushInterval, "flush-interval", 100*time.Millisecond, "how long a batch waits for more records (up to --batch-max) before its INSERTs; fewer, larger INSERTs spare ClickHouse parts and merges, at this much added latency (0: one write per poll)")
}

// Validate returns every problem at once.
func (c *Config) Validate() error {
	errs := []error{c.Worker.Validate()}
	if c.FlushInterval < 0 || c.FlushInterval > time.Minute {
		errs = append(errs, fmt.Errorf("--flush-interval %s: must be within 0..1m", c.FlushInterval))
	}
	if _, err := c.Options(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Options parses the DSN.
func (c *Config) Options() (*clickhouse.Options, error) {
	opts, err := clickhouse.ParseDSN(c.ClickHouse)
	if err != nil {
		return nil, fmt.Errorf("--clickhouse: %w", err)
	}
	if opts.Auth.Database == "" {
		return nil, errors.New("--clickhouse: the DSN must name a database")
	}
	return opts, nil
}
