package kafkaconn

import (
	"context"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestSecurityValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    Security
		want string // "" accepted, else part of the error
	}{
		{"none", Security{}, ""},
		{"plain over tls", Security{TLS: true, SASLMechanism: "plain", SASLUser: "u", SASLPassword: "p"}, ""},
		{"scram without tls", Security{SASLMechanism: "scram-sha-512", SASLUser: "u", SASLPassword: "p"}, ""},
		{"unknown mechanism", Security{SASLMechanism: "kerberos"}, "want plain"},
		{"no user", Security{SASLMechanism: "scram-sha-512", SASLPassword: "p"}, "--kafka-sasl-user"},
		{"plain without tls", Security{SASLMechanism: "plain", SASLUser: "u", SASLPassword: "p"}, "in clear"},
		{"missing ca file", Security{TLS: true, CAFile: "/nonexistent/ca.pem"}, "--kafka-tls-ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.s.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSecurityOpts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    Security
		want int
	}{
		{"none", Security{}, 0},
		{"tls", Security{TLS: true}, 1},
		{"sasl", Security{SASLMechanism: "scram-sha-256", SASLUser: "u", SASLPassword: "p"}, 1},
		{"both", Security{TLS: true, SASLMechanism: "plain", SASLUser: "u", SASLPassword: "p"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if opts, err := tt.s.Opts(); err != nil || len(opts) != tt.want {
				t.Errorf("Opts() = %d options, %v; want %d", len(opts), err, tt.want)
			}
		})
	}
}

// TestFlagsAndEnvNames: Config registers --brokers and every security flag;
// the names are the workers' (REFTRACK_KAFKA_SASL_PASSWORD and the rest
// follow from them).
func TestFlagsAndEnvNames(t *testing.T) {
	t.Parallel()
	for _, optional := range []bool{false, true} {
		var c Config
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		if optional {
			c.RegisterOptionalFlags(fs, "for audit")
		} else {
			c.RegisterFlags(fs)
		}
		var got []string
		fs.VisitAll(func(f *flag.Flag) { got = append(got, f.Name) })
		want := append([]string{FlagBrokers}, SecurityFlags...)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("optional=%v: flags %v, want %v", optional, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		optional bool
		args     []string
		want     string
	}{
		{"default brokers", false, nil, ""},
		{"no brokers", false, []string{"--brokers", " , "}, "--brokers"},
		{"optional, none", true, nil, ""},
		{"optional, bad sasl", true, []string{"--brokers", "b:9092", "--kafka-sasl-mechanism", "scram-sha-256"}, "--kafka-sasl-user"},
		{"every problem at once", false, []string{"--brokers", "", "--kafka-sasl-mechanism", "x"}, "--kafka-sasl-mechanism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c Config
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			if tt.optional {
				c.RegisterOptionalFlags(fs, "x")
			} else {
				c.RegisterFlags(fs)
			}
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestConnectSASL: against brokers that demand SCRAM, Connect fails at once
// with an error that names the missing login, or the rejected one, and
// succeeds with the right credentials.
func TestConnectSASL(t *testing.T) {
	t.Parallel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "ops", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := strings.Join(c.ListenAddrs(), ",")
	tests := []struct {
		name string
		sec  Security
		want string // "" connects, else part of the error
	}{
		{"no credentials", Security{}, "no SASL: set --kafka-sasl-*"},
		{"wrong password", Security{SASLMechanism: "scram-sha-256", SASLUser: "ops", SASLPassword: "pw-Xq7"}, `SASL scram-sha-256 as "ops"`},
		{"right password", Security{SASLMechanism: "scram-sha-256", SASLUser: "ops", SASLPassword: "s3cret"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Brokers: brokers, Security: tt.sec}
			cl, err := cfg.Connect(context.Background())
			if err == nil {
				cl.Close()
			}
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Connect() = %v, want %q", err, tt.want)
			}
			if err != nil && tt.sec.SASLPassword != "" && strings.Contains(err.Error(), tt.sec.SASLPassword) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}
