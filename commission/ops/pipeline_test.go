package ops

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// TestPipelineSASL: the commands that send requests to the commission
// stage (adjust here; decide, close-period and fraud velocity share
// pipeline) reach brokers that demand SCRAM with the workers' flags, or the
// password from REFTRACK_KAFKA_SASL_PASSWORD as a CronJob passes it, and
// without credentials fail saying so instead of retrying the produce until
// the context ends.
func TestPipelineSASL(t *testing.T) {
	t.Parallel()
	topic := schemas.TopicAttributions
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "ops", "s3cret"),
		kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := strings.Join(c.ListenAddrs(), ",")
	login := []string{"--kafka-sasl-mechanism", "scram-sha-256", "--kafka-sasl-user", "ops"}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"no credentials", nil, nil, "no SASL"},
		{"flags", append(login, "--kafka-sasl-password", "s3cret"), nil, ""},
		{"password from the environment", login, map[string]string{"REFTRACK_KAFKA_SASL_PASSWORD": "s3cret"}, ""},
		{"bad mechanism", []string{"--kafka-sasl-mechanism", "gssapi"}, nil, "--kafka-sasl-mechanism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A guard, not an assertion: without it a produce that is never
			// let in would hang the test rather than fail it.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			id := "req-" + testenv.RandomID()
			args := append([]string{"adjust", "--brokers", brokers, "--partner", "acme", "--payee", "agent:A-1", "--currency", "USD",
				"--amount", "1.00", "--reason", "r", "--actor", "ops@acme", "--request-id", id}, tt.args...)
			err := Adjust(ctx, args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("adjust = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("adjust: %v", err)
			}
			if !sentTo(t, c.ListenAddrs(), topic, "acme|adjustment:"+id) {
				t.Errorf("no record keyed acme|adjustment:%s on %s", id, topic)
			}
		})
	}
}

// sentTo reads topic to its current end as the superuser and reports
// whether a record has key.
func sentTo(t *testing.T, brokers []string, topic, key string) bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.SASL(scram.Auth{User: "ops", Pass: "s3cret"}.AsSha256Mechanism()),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return false
		}
		for _, r := range fs.Records() {
			if string(r.Key) == key {
				return true
			}
		}
	}
}
