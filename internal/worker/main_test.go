package worker

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/schemas"
)

// storeApp is a StoreApp over a memStore, with one flag of its own.
type storeApp struct {
	store  *memStore
	linger time.Duration
	env    chan Env
	fail   error
}

func (a *storeApp) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&a.linger, "linger", 0, "test linger")
}
func (a *storeApp) Validate() error       { return nil }
func (a *storeApp) Linger() time.Duration { return a.linger }
func (a *storeApp) MaxRecords() int       { return 0 }
func (a *storeApp) StartStore(_ context.Context, env Env) (Store, func(), error) {
	if a.fail != nil {
		return nil, nil, a.fail
	}
	a.env <- env
	return a.store, func() {}, nil
}

// serverApp is a transactional App that also serves: it produces one record
// with the producer the runtime hands it, then waits for the end.
type serverApp struct {
	got chan Env
}

func (serverApp) RegisterFlags(*flag.FlagSet) {}
func (serverApp) Validate() error             { return nil }
func (serverApp) Start(context.Context, *slog.Logger, *prometheus.Registry) (Processor, func(), error) {
	return Func(func(context.Context, Message) ([]Output, error) { return nil, nil }), func() {}, nil
}
func (a serverApp) Serve(ctx context.Context, env Env) error {
	rec := &kgo.Record{Topic: env.Config.Topic(schemas.TopicIngested), Value: []byte("served")}
	if err := env.Producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return err
	}
	a.got <- env
	<-ctx.Done()
	return nil
}

// runMain runs s.Main against brokers until stop is called; stop returns
// what Main returned.
func runMain(t *testing.T, s Settings, args ...string) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Main(ctx, append([]string{s.Name, "--ops-addr=", "--log-level=error"}, args...), func(string) string { return "" })
	}()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
}

// The sink is a stage like the others (issue #12: it re-implemented the
// runtime's main): a Store stage starts through Settings.Main, with the
// runtime's flags and its own, and its store gets every record.
func TestMainRunsAStoreStage(t *testing.T) {
	t.Parallel()
	brokers, cfg, prod := kafkaFixture(t, "ms.", 50)
	const n = 20
	for i := range n {
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: "ms." + schemas.TopicUnique, Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	app := &storeApp{store: &memStore{got: map[string][]int64{}, writes: 1}, env: make(chan Env, 1)}
	stop := runMain(t, Settings{Name: "sinky", Inputs: []string{schemas.TopicUnique}, Store: app},
		"--brokers="+strings.Join(brokers, ","), "--topic-prefix=ms.", "--linger=10ms")
	env := <-app.env
	if env.Config.TopicPrefix != cfg.TopicPrefix || env.Log == nil || env.Registry == nil || env.Ready == nil {
		t.Errorf("the store started with %+v, want the runtime's config, logger, registry and readiness", env)
	}
	if app.Linger() != 10*time.Millisecond {
		t.Errorf("the store's own flag was not parsed: linger %s", app.Linger())
	}
	for app.store.count() < n {
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("Main returned %v on shutdown", err)
	}
	if got := app.store.count(); got != n {
		t.Errorf("store holds %d records, want %d", got, n)
	}
}

// A stage that serves requests gets its producer from the runtime (issue
// #12: ingest built its own), and that producer is part of readiness.
func TestMainHandsAServerTheRuntimesProducer(t *testing.T) {
	t.Parallel()
	brokers, _, _ := kafkaFixture(t, "sv.", 50)
	app := serverApp{got: make(chan Env, 1)}
	stop := runMain(t, Settings{Name: "servy", Inputs: []string{schemas.TopicInbound}, Outputs: []string{schemas.TopicIngested}, App: app},
		"--brokers="+strings.Join(brokers, ","), "--topic-prefix=sv.")
	env := <-app.got
	consume(t, brokers, "sv."+schemas.TopicIngested, 1)
	env.Ready.mu.Lock()
	var checks []string
	for _, c := range env.Ready.checks {
		checks = append(checks, c.name)
	}
	env.Ready.mu.Unlock()
	if !slices.Contains(checks, "kafka-producer") {
		t.Errorf("readiness checks %q, want the server's producer among them", checks)
	}
	if err := stop(); err != nil {
		t.Fatalf("Main returned %v on shutdown", err)
	}
}

// Settings that are not one stage are refused before anything starts, and
// a binary's subcommand runs instead of the stage.
func TestMainSettings(t *testing.T) {
	t.Parallel()
	var ran []string
	cmd := func(_ context.Context, args []string, _ func(string) string) error {
		ran = args
		return nil
	}
	tests := []struct {
		name    string
		s       Settings
		args    []string
		wantErr string
	}{
		{"neither a processor nor a store", Settings{Name: "x", Inputs: []string{"a"}}, nil, "exactly one of App and Store"},
		{"both", Settings{Name: "x", Inputs: []string{"a"}, App: serverApp{}, Store: &storeApp{}}, nil, "exactly one of App and Store"},
		{"no name", Settings{Inputs: []string{"a"}, App: serverApp{}}, nil, "a name"},
		{"no inputs", Settings{Name: "x", App: serverApp{}}, nil, "no inputs"},
		{"a subcommand", Settings{Name: "x", App: serverApp{}, Commands: map[string]RunFunc{"migrate": cmd}}, []string{"migrate", "--dry"}, ""},
		{"bad flags of the store", Settings{Name: "x", Inputs: []string{"a"}, Store: &storeApp{}}, []string{"--linger=soon"}, "parse flags"},
		// The ops server is up by then; it must stop too (goleak, TestMain).
		{"a store that does not start", Settings{Name: "x", Inputs: []string{"a"}, Store: &storeApp{fail: errors.New("no clickhouse")}},
			[]string{"--ops-addr=127.0.0.1:0"}, "start x: no clickhouse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Main(context.Background(), append([]string{"x"}, tt.args...), func(string) string { return "" })
			if tt.wantErr == "" {
				if err != nil || !slices.Equal(ran, []string{"migrate", "--dry"}) {
					t.Errorf("Main = %v, ran %q; want the subcommand run with its args", err, ran)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Main = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// Outputs are the stage's declared topology, held by the runtime: a
// processor that writes elsewhere stops the worker instead of feeding a
// topic nothing downstream expects.
func TestRunRefusesUndeclaredOutputs(t *testing.T) {
	t.Parallel()
	_, cfg, prod := kafkaFixture(t, "uo.", 10)
	if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: "uo." + schemas.TopicValid, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	stray := Func(func(context.Context, Message) ([]Output, error) {
		return []Output{{Topic: schemas.TopicCommissions, Value: []byte("x")}}, nil
	})
	stage := Stage{Name: "stray", Inputs: []string{schemas.TopicValid}, Outputs: []string{schemas.TopicUnique}, Processor: stray}
	err := Run(context.Background(), cfg, stage, discard(), NewRegistry(), &Readiness{})
	if err == nil || !strings.Contains(err.Error(), schemas.TopicCommissions) || !strings.Contains(err.Error(), "not among its outputs") {
		t.Fatalf("Run = %v, want it to stop on an output to an undeclared topic", err)
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
