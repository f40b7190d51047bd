package pii

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestEraseKafkaFlags: erase takes the workers' Kafka security flags and
// reports a bad one with every other problem, before any server is reached
// (none runs at these addresses).
func TestEraseKafkaFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown mechanism", []string{"--brokers", "127.0.0.1:1", "--kafka-sasl-mechanism", "kerberos"},
			[]string{"--kafka-sasl-mechanism \"kerberos\"", "--partner"}},
		{"plain in clear", []string{"--brokers", "127.0.0.1:1", "--kafka-sasl-mechanism", "plain", "--kafka-sasl-user", "u", "--kafka-sasl-password", "p"},
			[]string{"--kafka-tls", "--lead"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			args := append([]string{"erase", "--pii-redis", "127.0.0.1:1"}, tt.args...)
			err := eraseCommand(context.Background(), args, func(string) string { return "" }, &out, &errOut)
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("erase = %v, want %q in it", err, w)
				}
			}
		})
	}
}
