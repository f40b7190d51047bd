package worker

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// TestRunInputPatterns runs a stage that consumes one topic by name and more
// by pattern, under a prefix whose dot must not match any character: only
// the topics the stage asked for are read, and the processor sees each
// record's topic without the prefix.
func TestRunInputPatterns(t *testing.T) {
	t.Parallel()
	const prefix = "t."
	want := []string{schemas.TopicValid, "in.acme", "in.zeta"}
	decoys := []string{
		"t.referralsXvalid", // a name is not a pattern
		"in.acme",           // no prefix
		"tXin.acme",         // the prefix's dot is literal
		"t.in.acme2",        // a pattern matches the whole name...
		"xt.in.zeta",        // ...from its start, whatever alternation it holds
	}
	topics := []string{prefix + schemas.TopicUnique}
	for _, w := range want {
		topics = append(topics, prefix+w)
	}
	topics = append(topics, decoys...)
	brokers := testenv.Kafka(t, 2, topics...)
	cfg := Config{Brokers: strings.Join(brokers, ","), TopicPrefix: prefix, Group: "g", Instance: "0",
		BatchMax: 10, ShutdownTimeout: 5 * time.Second, LogFormat: "text", LogLevel: "info"}

	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var recs []*kgo.Record
	for _, topic := range topics[1:] {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(topic)})
	}
	if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	echo := Func(func(_ context.Context, m Message) ([]Output, error) {
		return []Output{{Topic: schemas.TopicUnique, Value: []byte(m.BareTopic + " " + string(m.Value))}}, nil
	})
	stage := Stage{Name: "test", Inputs: []string{schemas.TopicValid}, InputPatterns: []string{`in\.acme|in\.zeta`}, Processor: echo}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, stage, slog.New(slog.NewTextHandler(io.Discard, nil)), NewRegistry(), &Readiness{})
	}()
	out := consume(t, brokers, prefix+schemas.TopicUnique, len(want))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v on shutdown", err)
	}

	var got, wantOut []string
	for _, r := range out {
		got = append(got, string(r.Value))
	}
	for _, w := range want {
		wantOut = append(wantOut, w+" "+prefix+w)
	}
	slices.Sort(got)
	slices.Sort(wantOut)
	if !slices.Equal(got, wantOut) {
		t.Errorf("consumed %q, want %q", got, wantOut)
	}
}

func TestSubscription(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		names, patterns []string
		want            []string
		wantErr         string
	}{
		{"names stay names", []string{"a.b", "c"}, nil, []string{"p.a.b", "p.c"}, ""},
		{"names become quoted regexes beside patterns", []string{"a.b"}, []string{`in\.[a-z]+`}, []string{`^p\.a\.b$`, `^p\.(?:in\.[a-z]+)$`}, ""},
		{"a bad pattern is refused", nil, []string{`in\.(`}, nil, `input pattern "in\\.("`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts, got, err := subscription("p.", tt.names, tt.patterns)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) || len(opts) == 0 {
				t.Errorf("subscription = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

type plainApp struct{ App }

type choosyApp struct{ App }

func (choosyApp) Subscription() (topics, patterns []string) {
	return []string{"mine"}, []string{"mine\\..+"}
}

func TestInputsOf(t *testing.T) {
	t.Parallel()
	given := []string{"given"}
	if topics, patterns := inputsOf(plainApp{}, given); !slices.Equal(topics, given) || patterns != nil {
		t.Errorf("an App without a Subscription consumes %q %q, want Main's inputs", topics, patterns)
	}
	if topics, patterns := inputsOf(choosyApp{}, given); !slices.Equal(topics, []string{"mine"}) || len(patterns) != 1 {
		t.Errorf("a Subscriber consumes %q %q, want its own choice", topics, patterns)
	}
}
