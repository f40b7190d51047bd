// Package rediscfg holds the Redis connection flags shared by the stages that
// keep state in Redis (dedupe, attribute), so they are configured and
// validated the same way.
package rediscfg

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config is a Redis connection.
type Config struct {
	Addr      string
	Username  string
	Password  string
	DB        int
	TLS       bool
	KeyPrefix string
	Timeout   time.Duration
}

// RegisterFlags registers --redis-* flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "redis", "127.0.0.1:6379", "Redis address host:port")
	fs.StringVar(&c.Username, "redis-username", "", "Redis ACL user")
	fs.StringVar(&c.Password, "redis-password", "", "Redis password (prefer the REFTRACK_REDIS_PASSWORD environment variable)")
	fs.IntVar(&c.DB, "redis-db", 0, "Redis database number")
	fs.BoolVar(&c.TLS, "redis-tls", false, "connect to Redis over TLS")
	fs.StringVar(&c.KeyPrefix, "redis-key-prefix", "reftrack:", "prefix of every Redis key, so environments can share a server")
	fs.DurationVar(&c.Timeout, "redis-timeout", 3*time.Second, "Redis dial/read/write timeout")
}

// Validate returns every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("--redis: address required"))
	}
	if c.DB < 0 || c.DB > 15 {
		errs = append(errs, fmt.Errorf("--redis-db %d: must be within 0..15", c.DB))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--redis-timeout %s: must be positive", c.Timeout))
	}
	return errors.Join(errs...)
}

// Connect opens a client and checks the server answers.
func (c *Config) Connect(ctx context.Context) (*redis.Client, error) {
	opts := &redis.Options{
		Addr: c.Addr, Username: c.Username, Password: c.Password, DB: c.DB,
		DialTimeout: c.Timeout, ReadTimeout: c.Timeout, WriteTimeout: c.Timeout,
	}
	if c.TLS {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("ping redis at %s: %w", c.Addr, err)
	}
	return rdb, nil
}
