package sink

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// Stage is the sink as its binary runs it: the four topics it lands, no
// Kafka outputs, ClickHouse as its store, and `sink migrate`.
func Stage() worker.Settings {
	return worker.Settings{
		Name:     "sink",
		Inputs:   []string{schemas.TopicUnique, schemas.TopicAttributions, schemas.TopicCommissions, schemas.TopicRejected},
		Store:    &App{},
		Commands: map[string]worker.RunFunc{"migrate": MigrateCommand},
	}
}

// App is the sink's own configuration (the runtime owns worker.Config) and
// how it starts its store; it implements worker.StoreApp.
type App struct {
	ClickHouse    string
	Migrate       bool
	FlushInterval time.Duration
	FlushRecords  int
}

// RegisterFlags registers the sink's flags.
func (a *App) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&a.ClickHouse, "clickhouse", "clickhouse://127.0.0.1:9000/reftrack", "ClickHouse DSN (clickhouse://user:password@host:port/database?secure=true)")
	fs.BoolVar(&a.Migrate, "migrate", true, "apply pending ClickHouse migrations at start")
	fs.DurationVar(&a.FlushInterval, "flush-interval", DefaultFlushInterval, "how long a batch waits for more records (up to --flush-records) before its INSERTs; fewer, larger INSERTs spare ClickHouse parts and merges, at this much added latency (0: one write per poll)")
	fs.IntVar(&a.FlushRecords, "flush-records", DefaultFlushRecords, "records a batch holds at most (gathered from polls of --batch-max each); a larger batch is fewer INSERTs, at the memory of its rows")
}

// Validate returns every problem at once.
func (a *App) Validate() error {
	var errs []error
	if a.FlushInterval < 0 || a.FlushInterval > time.Minute {
		errs = append(errs, fmt.Errorf("--flush-interval %s: must be within 0..1m", a.FlushInterval))
	}
	if a.FlushRecords < 0 || a.FlushRecords > 1_000_000 {
		errs = append(errs, fmt.Errorf("--flush-records %d: must be within 0..1000000 (0: --batch-max)", a.FlushRecords))
	}
	if _, err := a.Options(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Options parses the DSN.
func (a *App) Options() (*clickhouse.Options, error) {
	opts, err := clickhouse.ParseDSN(a.ClickHouse)
	if err != nil {
		return nil, fmt.Errorf("--clickhouse: %w", err)
	}
	if opts.Auth.Database == "" {
		return nil, errors.New("--clickhouse: the DSN must name a database")
	}
	return opts, nil
}

// Linger implements worker.StoreApp: --flush-interval.
func (a *App) Linger() time.Duration { return a.FlushInterval }

// MaxRecords implements worker.StoreApp: --flush-records.
func (a *App) MaxRecords() int { return a.FlushRecords }

// ClickHouse 18.16 spends about 50 ms of CPU on every INSERT whatever its
// size (a part per month partition, two files per column, merges after),
// and little per row: 100 rows cost 50 ms, 20 000 rows 164 ms
// (BENCHMARKS.md). So a batch is bounded by time, not by a transactional
// stage's --batch-max: at half the box's capacity the interval decides,
// and a write every interval plus its own time costs ClickHouse about
// five INSERTs. The interval stays 100 ms: a record can wait for the write
// in progress, the interval and its own write, and at half capacity that
// tail was already most of the 1 s p99 (250 ms cut INSERTs by 40 % and
// added its 150 ms to the tail; BENCHMARKS.md). --flush-records bounds the
// bulk's batches, and the sink's memory.
const (
	DefaultFlushInterval = 100 * time.Millisecond
	DefaultFlushRecords  = 10_000
)

// StartStore implements worker.StoreApp: it applies pending migrations
// (unless --migrate=false) and connects to ClickHouse.
func (a *App) StartStore(ctx context.Context, env worker.Env) (worker.Store, func(), error) {
	opts, err := a.Options()
	if err != nil {
		return nil, nil, err
	}
	if a.Migrate {
		if err := Migrate(ctx, opts, env.Log); err != nil {
			return nil, nil, err
		}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("open clickhouse: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("ping clickhouse: %w", err)
	}
	store := &Store{Conn: conn, TopicPrefix: env.Config.TopicPrefix, Metrics: NewMetrics(env.Registry), Now: time.Now}
	return store, func() { conn.Close() }, nil
}

// Config is the runtime's configuration and the sink's together, for
// `sink migrate`, which runs without the runtime but takes every flag the
// sink takes.
type Config struct {
	Worker worker.Config
	App
}

// RegisterFlags registers the runtime's and the sink's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Worker.RegisterFlags(fs, "sink")
	c.App.RegisterFlags(fs)
}

// Validate returns every problem at once.
func (c *Config) Validate() error {
	return errors.Join(c.Worker.Validate(), c.App.Validate())
}
