package ingest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/ingest/auth"
	"github.com/reftrack/reftrack/ingest/reftoken"
	"github.com/reftrack/reftrack/internal/rediscfg"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// App wires ingest into worker.Main: the Kafka path as the stage's
// processor, the HTTP API as a Server beside it.
type App struct {
	Listen         string
	MaxBody        int64
	Auth           auth.Config
	NoAuth         bool
	Redis          rediscfg.Config
	IdempotencyTTL time.Duration
	Rate           float64
	Burst          int
	ClickHouse     string
	TokenKeys      string
	TokenKeyID     string
	InboundShared  bool
	Edge           EdgeConfig
	PII            PIIConfig
}

// RegisterFlags implements worker.App.
func (a *App) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&a.Listen, "listen", ":8080", "listen address of the partner HTTP API")
	fs.Int64Var(&a.MaxBody, "max-body", 1<<20, "largest accepted HTTP body in bytes")
	fs.StringVar(&a.Auth.Issuer, "jwt-issuer", "", "required iss of bearer tokens")
	fs.StringVar(&a.Auth.Audience, "jwt-audience", "reftrack-ingest", "required aud of bearer tokens")
	fs.StringVar(&a.Auth.JWKSURL, "jwks-url", "", "JWKS URL of the token issuer (RS256/ES256), cached and refreshed")
	fs.StringVar(&a.Auth.JWKSFile, "jwks-file", "", "local JWKS file (RS256/ES256)")
	fs.StringVar(&a.Auth.HS256Secret, "jwt-hs256-secret", "", "HS256 shared secret, ≥ 32 bytes (prefer the REFTRACK_JWT_HS256_SECRET environment variable); off unless set")
	fs.BoolVar(&a.NoAuth, "insecure-no-auth", false, "serve the API without authentication (never in production)")
	a.Redis.RegisterFlags(fs)
	fs.DurationVar(&a.IdempotencyTTL, "idempotency-ttl", 24*time.Hour, "how long an Idempotency-Key and its response are kept")
	fs.Float64Var(&a.Rate, "rate-limit", 2000, "events per second per partner over HTTP (0: unlimited)")
	fs.IntVar(&a.Burst, "rate-burst", 10000, "events a partner may send at once above the rate")
	fs.StringVar(&a.ClickHouse, "clickhouse", "", "ClickHouse DSN of the sink's database, for GET /v1/referrals/{id} (empty: 501)")
	fs.StringVar(&a.TokenKeys, "referral-token-keys", "", "referral token HMAC keys, kid:base64secret,... (prefer REFTRACK_REFERRAL_TOKEN_KEYS); empty: tokens refused")
	fs.StringVar(&a.TokenKeyID, "referral-token-kid", "", "key id that signs new referral tokens (default: the first)")
	fs.BoolVar(&a.InboundShared, "inbound-shared", true, "also consume the shared referrals.inbound, whose records name their own partner: for trusted internal producers only, never writable by a partner (partners write referrals.inbound.<partner>, always consumed)")
	fs.DurationVar(&a.Auth.MaxLifetime, "jwt-max-lifetime", 24*time.Hour, "longest accepted bearer token lifetime, exp - iat (exp - now without iat)")
	a.Edge.RegisterFlags(fs)
	a.PII.RegisterFlags(fs)
}

// Validate implements worker.App.
func (a *App) Validate() error {
	var errs []error
	if a.Listen == "" {
		errs = append(errs, errors.New("--listen: must not be empty"))
	}
	if a.MaxBody < 1024 || a.MaxBody > 64<<20 {
		errs = append(errs, fmt.Errorf("--max-body %d: must be within 1 KiB..64 MiB", a.MaxBody))
	}
	if !a.NoAuth {
		if a.Auth.Issuer == "" {
			errs = append(errs, errors.New("--jwt-issuer: required (or --insecure-no-auth)"))
		}
		if a.Auth.JWKSURL == "" && a.Auth.JWKSFile == "" && a.Auth.HS256Secret == "" {
			errs = append(errs, errors.New("--jwks-url, --jwks-file or --jwt-hs256-secret: one is required (or --insecure-no-auth)"))
		}
		if s := a.Auth.HS256Secret; s != "" && len(s) < 32 {
			errs = append(errs, errors.New("--jwt-hs256-secret: must be at least 32 bytes"))
		}
	}
	errs = append(errs, a.Redis.Validate())
	if a.IdempotencyTTL < time.Minute {
		errs = append(errs, fmt.Errorf("--idempotency-ttl %s: must be at least 1m", a.IdempotencyTTL))
	}
	if _, err := a.tokenKeys(); err != nil {
		errs = append(errs, err)
	}
	if a.Rate < 0 || (a.Rate > 0 && a.Burst < 1) {
		errs = append(errs, fmt.Errorf("--rate-limit %v / --rate-burst %d: rate ≥ 0, burst ≥ 1", a.Rate, a.Burst))
	}
	if a.Auth.MaxLifetime <= 0 {
		errs = append(errs, fmt.Errorf("--jwt-max-lifetime %s: must be positive", a.Auth.MaxLifetime))
	}
	errs = append(errs, a.Edge.Validate())
	errs = append(errs, a.PII.Validate())
	return errors.Join(errs...)
}

// tokenKeys parses the referral token keys; nil when none are configured.
// Validate and the starts each call it, so that Validate changes nothing.
func (a *App) tokenKeys() (*reftoken.Keys, error) {
	if a.TokenKeys == "" {
		return nil, nil
	}
	k, err := reftoken.ParseKeys(a.TokenKeys, a.TokenKeyID)
	if err != nil {
		return nil, fmt.Errorf("--referral-token-keys: %w", err)
	}
	return k, nil
}

// Start implements worker.App.
func (a *App) Start(ctx context.Context, _ *slog.Logger, _ *prometheus.Registry) (worker.Processor, func(), error) {
	tokens, err := a.tokenKeys()
	if err != nil {
		return nil, nil, err
	}
	sealer, closeSealer, err := a.PII.open(ctx, a.Edge.Validation, nil)
	if err != nil {
		return nil, nil, err
	}
	in := &Inbound{Now: time.Now, Tokens: tokens, Sealer: sealer}
	return in, closeSealer, nil
}

// Serve implements worker.Server: the HTTP API, producing with the
// runtime's producer (which the runtime checks for readiness and closes).
func (a *App) Serve(ctx context.Context, env worker.Env) error {
	cfg, log, reg, ready := env.Config, env.Log, env.Registry, env.Ready
	// Not ready until the API listens: what comes before it (the key
	// store, two schema compilations) takes long enough for a caller that
	// waits for /readyz to find the port closed.
	var listening atomic.Bool
	ready.AddCheck("api", func(context.Context) error {
		if !listening.Load() {
			return errors.New("the partner API does not listen yet")
		}
		return nil
	})
	rdb, err := a.Redis.Connect(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	tokens, err := a.tokenKeys()
	if err != nil {
		return err
	}
	// The API's own dependency: the Redis that keeps Idempotency-Keys.
	ready.AddCheck("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	v, err := a.Edge.validator()
	if err != nil {
		return err
	}
	sealer, closeSealer, err := a.PII.open(ctx, a.Edge.Validation, v)
	if err != nil {
		return err
	}
	defer closeSealer()
	if sealer != nil {
		// Without the key store nothing can be produced: never in the clear.
		ready.AddCheck("pii-redis", sealer.ping)
	}
	api := &API{
		Validator: v, Sealer: sealer,
		Producer: env.Producer, Topic: cfg.Topic(schemas.TopicIngested), MaxBody: a.MaxBody,
		Now: time.Now, Log: log, Metrics: NewMetrics(reg),
		Tokens: tokens, Redis: rdb, RedisPrefix: a.Redis.KeyPrefix, IdempotencyTTL: a.IdempotencyTTL, Rate: a.Rate, Burst: a.Burst,
	}
	a.Edge.apply(api)
	if a.ClickHouse != "" {
		opts, err := clickhouse.ParseDSN(a.ClickHouse)
		if err != nil {
			return fmt.Errorf("--clickhouse: %w", err)
		}
		if api.ClickHouse, err = clickhouse.Open(opts); err != nil {
			return fmt.Errorf("open clickhouse: %w", err)
		}
		defer api.ClickHouse.Close()
	}
	if a.NoAuth {
		log.Warn("the partner API runs WITHOUT authentication (--insecure-no-auth)")
	} else if api.Auth, err = auth.New(ctx, a.Auth); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Listen, err)
	}
	listening.Store(true)
	return worker.ServeListener(ctx, ln, api.Handler(), log, a.Edge.serveOptions()...)
}
