package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/reftrack/reftrack/schemas"
)

// TestListSASL: against brokers that demand SCRAM (as the workers can
// use), dlq logs in with the workers' flags or their REFTRACK_* variables,
// and without credentials fails at once saying SASL is missing.
func TestListSASL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "ops", "s3cret"),
		kfake.SeedTopics(1, schemas.TopicRejected))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.SASL(scram.Auth{User: "ops", Pass: "s3cret"}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	v, _ := json.Marshal(schemas.Rejection{Stage: "validate", SourceTopic: schemas.TopicIngested, Reasons: []schemas.Reason{{Code: "invalid_phone"}}})
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: schemas.TopicRejected, Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the output, or else in the error
		ok   bool
	}{
		{"no credentials", nil, nil, "no SASL", false},
		{"flags", []string{"--kafka-sasl-mechanism", "scram-sha-512", "--kafka-sasl-user", "ops", "--kafka-sasl-password", "s3cret"}, nil, "invalid_phone", true},
		{"password from the environment", []string{"--kafka-sasl-mechanism", "scram-sha-512", "--kafka-sasl-user", "ops"},
			map[string]string{"REFTRACK_KAFKA_SASL_PASSWORD": "s3cret"}, "invalid_phone", true},
		{"wrong password", []string{"--kafka-sasl-mechanism", "scram-sha-512", "--kafka-sasl-user", "ops", "--kafka-sasl-password", "nope"},
			nil, "reach kafka", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			args := append([]string{"dlq", "list", "--brokers", strings.Join(brokers, ",")}, tt.args...)
			err := command(ctx, args, func(k string) string { return tt.env[k] }, &out, &errOut)
			switch {
			case tt.ok && err != nil:
				t.Fatalf("list: %v", err)
			case tt.ok && !strings.Contains(out.String(), tt.want):
				t.Errorf("output lacks %q:\n%s", tt.want, out.String())
			case !tt.ok && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("list = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
