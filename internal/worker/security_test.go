package worker

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/reftrack/reftrack/schemas"
)

// TestSASL runs a worker against a kfake broker that demands SCRAM: the
// right password processes records, a wrong one fails at start with a
// clear error instead of retrying forever.
func TestSASL(t *testing.T) {
	t.Parallel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "reftrack", "s3cret"),
		kfake.SeedTopics(1, schemas.AllTopics("")...))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.SASL(scram.Auth{User: "reftrack", Pass: "s3cret"}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: schemas.TopicValid, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cfg := func(pass string) Config {
		return Config{Brokers: strings.Join(brokers, ","), Group: "g-" + pass, Instance: "0", BatchMax: 10, ShutdownTimeout: time.Second,
			LogFormat: "text", LogLevel: "info", Security: KafkaSecurity{SASLMechanism: "scram-sha-256", SASLUser: "reftrack", SASLPassword: pass}}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	done := make(chan struct{}, 1)
	proc := Func(func(_ context.Context, m Message) ([]Output, error) {
		done <- struct{}{}
		return nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, cfg("s3cret"), Stage{Name: "sasl", Inputs: []string{schemas.TopicValid}, Processor: proc}, log, NewRegistry(), &Readiness{})
	}()
	select {
	case <-done:
	case err := <-errc:
		t.Fatalf("worker with the right password stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("worker with the right password processed nothing")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	err = Run(wctx, cfg("wrong"), Stage{Name: "sasl2", Inputs: []string{schemas.TopicValid}, Processor: proc}, log, NewRegistry(), &Readiness{})
	if err == nil || !strings.Contains(err.Error(), "reach kafka") {
		t.Errorf("wrong password: %v, want a failure to reach kafka", err)
	}
}
