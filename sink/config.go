package sink

import (
	"errors"
	"flag"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/reftrack/reftrack/internal/worker"
)

// Config of the sink.
type Config struct {
	Worker     worker.Config
	ClickHouse string
	Migrate    bool
}

// RegisterFlags registers the runtime's and the sink's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Worker.RegisterFlags(fs, "sink")
	fs.StringVar(&c.ClickHouse, "clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN (clickhouse://user:password@host:port/database?secure=true)")
	fs.BoolVar(&c.Migrate, "migrate", true, "apply pending ClickHouse migrations at start")
}

// Validate returns every problem at once.
func (c *Config) Validate() error {
	errs := []error{c.Worker.Validate()}
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
