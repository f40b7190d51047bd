package worker

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/reftrack/reftrack/internal/kafkaconn"
)

// Config is the part of every stage's configuration that the runtime owns.
type Config struct {
	Brokers         string
	TopicPrefix     string
	Group           string
	Instance        string
	BatchMax        int
	FetchMaxBytes   int
	FetchMinBytes   int
	FetchMaxWait    time.Duration
	MaxRecordBytes  int
	OpsAddr         string
	Pprof           bool
	ShutdownTimeout time.Duration
	LogFormat       string
	LogLevel        string
	Security        KafkaSecurity
}

// RegisterFlags registers the runtime flags; stage is used for defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet, stage string) {
	fs.StringVar(&c.Brokers, kafkaconn.FlagBrokers, kafkaconn.DefaultBrokers, "comma-separated Kafka seed brokers")
	fs.StringVar(&c.TopicPrefix, "topic-prefix", "", "prefix prepended to every topic name (e.g. \"staging.\")")
	fs.StringVar(&c.Group, "group", "reftrack-"+stage, "Kafka consumer group")
	fs.StringVar(&c.Instance, "instance", "0", "stable instance ordinal of this worker; with the stage it forms the transactional ID, so each replica needs its own")
	fs.IntVar(&c.BatchMax, "batch-max", 2000, "records processed per transaction at most")
	fs.IntVar(&c.FetchMaxBytes, "fetch-max-bytes", 8<<20, "bytes one fetch may return (compressed); bounds what a lagging worker buffers, so its memory (0: franz-go's 50 MiB)")
	fs.IntVar(&c.FetchMinBytes, "fetch-min-bytes", DefaultFetchMinBytes, "bytes the broker gathers before it answers a fetch, unless --fetch-max-wait passes first: at a low rate a poll then brings a batch rather than a record, and the stage pays one transaction for it (0: franz-go's 1 byte)")
	fs.DurationVar(&c.FetchMaxWait, "fetch-max-wait", DefaultFetchMaxWait, "longest the broker holds a fetch for --fetch-min-bytes: the most a record waits per stage for others to share its transaction (0: franz-go's 5s)")
	fs.IntVar(&c.MaxRecordBytes, "max-record-bytes", DefaultMaxRecordBytes, "largest record (key + value + headers) a stage produces; a record whose output would be larger becomes a too_large dead letter instead of a produce the broker refuses forever (keep it at or under the topics' max.message.bytes)")
	fs.StringVar(&c.OpsAddr, "ops-addr", ":9100", "listen address of /metrics, /healthz and /readyz (empty disables)")
	fs.BoolVar(&c.Pprof, "pprof", false, "also serve net/http/pprof under /debug/pprof/ on --ops-addr, for CPU and heap profiles of a running worker (keep the ops port private)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "time the batch in flight gets to commit after a shutdown signal")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	c.Security.RegisterFlags(fs)
}

// Validate returns every configuration problem at once.
func (c *Config) Validate() error {
	var errs []error
	if len(c.BrokerList()) == 0 {
		errs = append(errs, errors.New("--brokers: at least one broker is required"))
	}
	if c.Group == "" {
		errs = append(errs, errors.New("--group: must not be empty"))
	}
	if c.Instance == "" || strings.ContainsAny(c.Instance, " \t/") {
		errs = append(errs, fmt.Errorf("--instance %q: must be a non-empty token", c.Instance))
	}
	if c.BatchMax < 1 || c.BatchMax > 100_000 {
		errs = append(errs, fmt.Errorf("--batch-max %d: must be within 1..100000", c.BatchMax))
	}
	if c.FetchMaxBytes != 0 && (c.FetchMaxBytes < 1<<20 || c.FetchMaxBytes > 256<<20) {
		errs = append(errs, fmt.Errorf("--fetch-max-bytes %d: must be 0 (franz-go's default) or within 1 MiB..256 MiB", c.FetchMaxBytes))
	}
	if c.FetchMinBytes < 0 || c.FetchMinBytes > 16<<20 {
		errs = append(errs, fmt.Errorf("--fetch-min-bytes %d: must be within 0..16 MiB", c.FetchMinBytes))
	}
	if c.FetchMaxWait != 0 && (c.FetchMaxWait < 10*time.Millisecond || c.FetchMaxWait > 5*time.Second) {
		errs = append(errs, fmt.Errorf("--fetch-max-wait %s: must be 0 (franz-go's default) or within 10ms..5s", c.FetchMaxWait))
	}
	if c.MaxRecordBytes != 0 && (c.MaxRecordBytes < 64<<10 || c.MaxRecordBytes > 64<<20) {
		errs = append(errs, fmt.Errorf("--max-record-bytes %d: must be within 64 KiB..64 MiB", c.MaxRecordBytes))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--shutdown-timeout %s: must be positive", c.ShutdownTimeout))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("--log-format %q: want json or text", c.LogFormat))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: %w", c.LogLevel, err))
	}
	errs = append(errs, c.Security.Validate())
	return errors.Join(errs...)
}

// The fetch defaults: the latency phase of make bench (half the box's
// capacity) brought a few records per poll without them, and a stage paid a
// transaction for each few (BENCHMARKS.md). 64 KiB is a few hundred events
// of lz4 JSON; 50 ms per stage keeps four hops well inside the 1 s p99.
const (
	DefaultFetchMinBytes = 64 << 10
	DefaultFetchMaxWait  = 50 * time.Millisecond
)

// DefaultMaxRecordBytes matches the brokers' default max.message.bytes
// (1 MB), less room for the batch header.
const DefaultMaxRecordBytes = 1_000_000

// maxRecordBytes is MaxRecordBytes, or its default when unset.
func (c *Config) maxRecordBytes() int {
	if c.MaxRecordBytes > 0 {
		return c.MaxRecordBytes
	}
	return DefaultMaxRecordBytes
}

// BrokerList splits Brokers into addresses, as every ops command does.
func (c *Config) BrokerList() []string { return kafkaconn.SplitBrokers(c.Brokers) }

// Topic applies the configured prefix to a topic name from package schemas.
func (c *Config) Topic(name string) string { return c.TopicPrefix + name }

// Logger builds the process logger from the config.
func (c *Config) Logger(w io.Writer, stage string) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel)) // checked by Validate
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if c.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h).With("stage", stage, "instance", c.Instance)
}

// EnvName is the environment variable that backs a flag: --redis-addr is
// REFTRACK_REDIS_ADDR.
func EnvName(flagName string) string {
	return "REFTRACK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ParseFlags parses args and then fills every flag not given on the command
// line from its environment variable, so flags win over the environment.
func ParseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, err))
			}
		}
	})
	return errors.Join(errs...)
}
