package worker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

// App is a transactional stage as its binary sees it: its own flags, their
// validation, and how to build its Processor once they are valid.
type App interface {
	RegisterFlags(fs *flag.FlagSet)
	Validate() error
	// Start connects what the stage needs (Redis, rule files) and returns
	// its Processor and a close function.
	Start(ctx context.Context, log *slog.Logger, reg *prometheus.Registry) (Processor, func(), error)
}

// Server is implemented by an App that also serves requests of its own
// (ingest's HTTP API); Serve runs beside the consume loop until ctx ends.
type Server interface {
	Serve(ctx context.Context, cfg Config, log *slog.Logger, reg *prometheus.Registry, ready *Readiness) error
}

// Subscriber is implemented by an App whose inputs depend on its flags
// (ingest reads every partner's inbound topic, and the shared one only when
// asked). Main asks once the flags are valid; the answer replaces the inputs
// Main was given.
type Subscriber interface {
	Subscription() (topics, patterns []string)
}

// inputsOf is what a stage consumes: its App's choice if it makes one, else
// the inputs its binary gave Main.
func inputsOf(app App, inputs []string) (topics, patterns []string) {
	if s, ok := app.(Subscriber); ok {
		return s.Subscription()
	}
	return inputs, nil
}

// ReadinessInterval is how often dependency checks run.
const ReadinessInterval = 5 * time.Second

// Main is the whole of a stage binary's run: flags with environment
// fallbacks, validation of every flag at once, logger, metrics registry, the
// ops server, and Run, under one errgroup so that either failing stops both.
func Main(ctx context.Context, args []string, getenv func(string) string, name string, inputs []string, app App) error {
	var cfg Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cfg.RegisterFlags(fs, name)
	app.RegisterFlags(fs)
	if err := ParseFlags(fs, args[1:], getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("parse flags: %w", err)
	}
	if err := errors.Join(cfg.Validate(), app.Validate()); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	log := cfg.Logger(os.Stderr, name)
	reg := NewRegistry()
	ready := &Readiness{}

	proc, closeFn, err := app.Start(ctx, log, reg)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	defer closeFn()

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return Serve(gctx, cfg.OpsAddr, cfg.Ops(reg, ready), log) })
	g.Go(func() error { ready.Watch(gctx, ReadinessInterval); return nil })
	if srv, ok := app.(Server); ok {
		g.Go(func() error { return srv.Serve(gctx, cfg, log, reg, ready) })
	}
	topics, patterns := inputsOf(app, inputs)
	stage := Stage{Name: name, Inputs: topics, InputPatterns: patterns, Processor: proc}
	g.Go(func() error {
		err := Run(gctx, cfg, stage, log, reg, ready)
		if err != nil {
			log.Error("worker failed", "err", err)
		}
		return err
	})
	err = g.Wait()
	log.Info("stopped", "err", err)
	return err
}
