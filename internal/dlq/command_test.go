package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// TestListOutput (issue #12, --output json|table): list prints the chosen
// dead letters as a table or as a JSON array an operator can pipe to jq.
func TestListOutput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	topic := "p." + schemas.TopicRejected
	brokers := testenv.Kafka(t, 1, topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, rej := range []schemas.Rejection{
		{Stage: "validate", SourceTopic: "referrals.ingested", SourceOffset: 7, Reasons: []schemas.Reason{{Code: "invalid_phone", Pointer: "/payload/phone"}}, Original: []byte(`{}`)},
		{Stage: "ingest", SourceTopic: "referrals.inbound.acme", Reasons: []schemas.Reason{{Code: "malformed_json"}}, Original: []byte(`{`)},
	} {
		v, _ := json.Marshal(rej)
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, out string)
	}{
		{"json", []string{"--output", "json", "--stage", "validate"}, func(t *testing.T, out string) {
			var rows []listed
			if err := json.Unmarshal([]byte(out), &rows); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if len(rows) != 1 || rows[0].Pos != "0/0" || rows[0].SourceOffset != 7 || rows[0].Reasons[0].Code != "invalid_phone" {
				t.Errorf("rows %+v, want the validate dead letter at 0/0", rows)
			}
		}},
		{"json none", []string{"--output", "json", "--code", "nothing_like_it"}, func(t *testing.T, out string) {
			if strings.TrimSpace(out) != "[]" {
				t.Errorf("output %q, want []", out)
			}
		}},
		{"table", nil, func(t *testing.T, out string) {
			for _, want := range []string{"pos", "0/0", "invalid_phone /payload/phone", "0/1", "referrals.inbound.acme/0@0"} {
				if !strings.Contains(out, want) {
					t.Errorf("table lacks %q:\n%s", want, out)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			args := append([]string{"dlq", "list", "--brokers", brokers[0], "--topic-prefix", "p."}, tt.args...)
			if err := command(ctx, args, func(string) string { return "" }, &out, &errOut); err != nil {
				t.Fatal(err)
			}
			tt.check(t, out.String())
		})
	}
}

// TestCommandUsage: -h prints the subcommands and succeeds; a missing or
// unknown subcommand or a bad --output fails before Kafka is reached (the
// brokers here do not exist).
func TestCommandUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantErr string // "" for success
	}{
		{[]string{"dlq", "-h"}, ""},
		{[]string{"dlq", "list", "-h"}, ""},
		{[]string{"dlq"}, "usage: dlq"},
		{[]string{"dlq", "lsit"}, `unknown subcommand "lsit"`},
		{[]string{"dlq", "list", "--output", "yaml"}, "--output"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		args := append(tt.args, "--brokers", "127.0.0.1:1")
		err := command(context.Background(), args, func(string) string { return "" }, &out, &errOut)
		if (tt.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.wantErr)
		}
	}
}
