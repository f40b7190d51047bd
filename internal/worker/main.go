package worker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
)

// Settings is one stage as its binary runs it, the stage's whole topology
// and wiring in one value: its name, the topics it reads and writes, and
// either a transactional App (consume → Processor → produce, in one Kafka
// transaction) or a StoreApp (consume → an external store, resumed from the
// store's own offsets). Every stage binary is Exec(<stage>.Stage()).
type Settings struct {
	// Name is the stage's name: flag defaults, transactional IDs, metrics,
	// dead letters.
	Name string
	// Inputs are the unprefixed topics the stage consumes. An App that is a
	// Subscriber chooses its own from its flags; Inputs then say what it
	// reads by default, for the topology.
	Inputs []string
	// Outputs are the unprefixed topics the stage writes, besides the dead
	// letters every transactional stage may write to referrals.rejected.
	// Run stops on a processor output to any other topic.
	Outputs []string
	// App is a transactional stage; Store a store stage. Exactly one.
	App   App
	Store StoreApp
	// Commands are the binary's subcommands (`sink migrate`): when args[1]
	// names one, it runs with args[1:] instead of the stage.
	Commands map[string]RunFunc
}

// RunFunc is a command's body: args[0] is its name. Only main exits.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string) error

// App is a transactional stage as its binary sees it: its own flags, their
// validation, and how to build its Processor once they are valid.
type App interface {
	RegisterFlags(fs *flag.FlagSet)
	Validate() error
	// Start connects what the stage needs (Redis, rule files) and returns
	// its Processor and a close function.
	Start(ctx context.Context, log *slog.Logger, reg *prometheus.Registry) (Processor, func(), error)
}

// StoreApp is a stage whose output is an external store (the sink's
// ClickHouse), run by RunStore.
type StoreApp interface {
	RegisterFlags(fs *flag.FlagSet)
	Validate() error
	// Linger is how long a batch may wait for more records (StoreStage.Linger).
	Linger() time.Duration
	// MaxRecords is how many records a write may hold (StoreStage.MaxRecords).
	MaxRecords() int
	// StartStore connects the store and returns it with a close function.
	StartStore(ctx context.Context, env Env) (Store, func(), error)
}

// Env is what the runtime hands a stage's own long-running parts.
type Env struct {
	Config   Config
	Log      *slog.Logger
	Registry *prometheus.Registry
	Ready    *Readiness
	// Producer is an idempotent, all-ISR producer (NewProducer) for records
	// that come from outside Kafka; set for a Server only. The runtime
	// checks it for readiness and closes it once Serve has returned.
	Producer *kgo.Client
}

// Server is implemented by an App that also serves requests of its own
// (ingest's HTTP API); Serve runs beside the consume loop until ctx ends,
// and must return only once its requests are done (Serve does so).
type Server interface {
	Serve(ctx context.Context, env Env) error
}

// Subscriber is implemented by an App whose inputs depend on its flags
// (ingest reads every partner's inbound topic, and the shared one only when
// asked). Main asks once the flags are valid; the answer replaces Inputs.
type Subscriber interface {
	Subscription() (topics, patterns []string)
}

// inputsOf is what a stage consumes: its App's choice if it makes one, else
// the inputs its Settings declare.
func inputsOf(app App, inputs []string) (topics, patterns []string) {
	if s, ok := app.(Subscriber); ok {
		return s.Subscription()
	}
	return inputs, nil
}

// ReadinessInterval is how often dependency checks run.
const ReadinessInterval = 5 * time.Second

// Exec is a stage binary's main: Main under SIGINT/SIGTERM, and the exit
// code. It is the only place a stage process exits.
func Exec(s Settings) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := s.Main(ctx, os.Args, os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, s.Name+":", err)
		os.Exit(1)
	}
}

// check refuses Settings that are not one stage.
func (s Settings) check() error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("a stage needs a name"))
	}
	if (s.App == nil) == (s.Store == nil) {
		errs = append(errs, fmt.Errorf("stage %q: exactly one of App and Store", s.Name))
	}
	if _, ok := s.App.(Subscriber); !ok && len(s.Inputs) == 0 {
		errs = append(errs, fmt.Errorf("stage %q has no inputs", s.Name))
	}
	return errors.Join(errs...)
}

// flags is the stage's own half of the configuration.
func (s Settings) flags() interface {
	RegisterFlags(*flag.FlagSet)
	Validate() error
} {
	if s.Store != nil {
		return s.Store
	}
	return s.App
}

// Main is the whole of a stage binary's run: a subcommand if args name one;
// else flags with environment fallbacks, validation of every flag at once,
// logger, metrics registry, the ops server and the stage's loop, under one
// errgroup so that any part failing stops all.
func (s Settings) Main(ctx context.Context, args []string, getenv func(string) string) error {
	if len(args) > 1 {
		if cmd, ok := s.Commands[args[1]]; ok {
			return cmd(ctx, args[1:], getenv)
		}
	}
	if err := s.check(); err != nil {
		return err
	}
	cfg, err := s.configure(args, getenv)
	if err != nil {
		return err
	}
	if cfg == nil {
		return nil // -h
	}
	env := Env{Config: *cfg, Log: cfg.Logger(os.Stderr, s.Name), Registry: NewRegistry(), Ready: &Readiness{}}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return Serve(gctx, cfg.OpsAddr, cfg.Ops(env.Registry, env.Ready), env.Log) })
	g.Go(func() error { env.Ready.Watch(gctx, ReadinessInterval); return nil })
	if s.Store != nil {
		err = s.runStore(ctx, gctx, g, env)
	} else {
		err = s.runApp(ctx, gctx, g, env)
	}
	env.Log.Info("stopped", "err", err)
	return err
}

// configure parses and validates the runtime's flags and the stage's; nil
// without an error means help was asked for.
func (s Settings) configure(args []string, getenv func(string) string) (*Config, error) {
	var cfg Config
	fs := flag.NewFlagSet(s.Name, flag.ContinueOnError)
	cfg.RegisterFlags(fs, s.Name)
	s.flags().RegisterFlags(fs)
	if err := ParseFlags(fs, args[1:], getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, fmt.Errorf("parse flags: %w", err)
	}
	if err := errors.Join(cfg.Validate(), s.flags().Validate()); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return &cfg, nil
}

// runApp starts a transactional stage, its Server if it has one, and Run,
// in g; it returns what g returns.
func (s Settings) runApp(ctx, gctx context.Context, g *errgroup.Group, env Env) error {
	proc, closeFn, err := s.App.Start(ctx, env.Log, env.Registry)
	if err != nil {
		return s.abandon(g, fmt.Errorf("start %s: %w", s.Name, err))
	}
	defer closeFn()
	if srv, ok := s.App.(Server); ok {
		if env.Producer, err = NewProducer(env.Config, s.Name, env.Log, env.Registry); err != nil {
			return s.abandon(g, err)
		}
		// Closed after g.Wait: Serve has drained its requests by then.
		defer env.Producer.Close()
		env.Ready.AddCheck("kafka-producer", env.Producer.Ping)
		g.Go(func() error { return srv.Serve(gctx, env) })
	}
	topics, patterns := inputsOf(s.App, s.Inputs)
	stage := Stage{Name: s.Name, Inputs: topics, InputPatterns: patterns, Outputs: s.Outputs, Processor: proc}
	g.Go(func() error { return logged(env.Log, Run(gctx, env.Config, stage, env.Log, env.Registry, env.Ready)) })
	return g.Wait()
}

// runStore starts a store stage and RunStore in g; it returns what g returns.
func (s Settings) runStore(ctx, gctx context.Context, g *errgroup.Group, env Env) error {
	store, closeFn, err := s.Store.StartStore(ctx, env)
	if err != nil {
		return s.abandon(g, fmt.Errorf("start %s: %w", s.Name, err))
	}
	defer closeFn()
	stage := StoreStage{Name: s.Name, Inputs: s.Inputs, Store: store, Linger: s.Store.Linger(), MaxRecords: s.Store.MaxRecords()}
	g.Go(func() error {
		return logged(env.Log, RunStore(gctx, env.Config, stage, env.Log, env.Registry, env.Ready))
	})
	return g.Wait()
}

// errStartFailed stops the ops server when the stage could not start.
var errStartFailed = errors.New("stage did not start")

// abandon stops what g already runs (the ops server) and returns err.
func (s Settings) abandon(g *errgroup.Group, err error) error {
	g.Go(func() error { return errStartFailed })
	_ = g.Wait()
	return err
}

// logged logs the loop's failure once, where the process handles it.
func logged(log *slog.Logger, err error) error {
	if err != nil {
		log.Error("worker failed", "err", err)
	}
	return err
}
