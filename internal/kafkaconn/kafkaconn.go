// Package kafkaconn is the one definition of how reftrack connects to
// Kafka: the seed brokers and the TLS and SASL settings, registered as the
// same flags (and so the same REFTRACK_* environment variables) by every
// worker and every operator command that opens a Kafka client, validated the
// same way, and turned into the same franz-go options. A command that
// registered --brokers but not the security flags could not reach a cluster
// the workers reach (a SASL cluster), so nothing registers them apart.
package kafkaconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// DefaultBrokers is --brokers unless a command says otherwise: the dev
// stack's broker.
const DefaultBrokers = "127.0.0.1:9092"

// Flag names, for the commands and the tests that check every command
// registers them.
const (
	FlagBrokers       = "brokers"
	FlagTLS           = "kafka-tls"
	FlagTLSCA         = "kafka-tls-ca"
	FlagSASLMechanism = "kafka-sasl-mechanism"
	FlagSASLUser      = "kafka-sasl-user"
	FlagSASLPassword  = "kafka-sasl-password"
)

// SecurityFlags are the flags Security registers.
var SecurityFlags = []string{FlagTLS, FlagTLSCA, FlagSASLMechanism, FlagSASLUser, FlagSASLPassword}

// Security is how a client authenticates to the brokers.
type Security struct {
	TLS           bool
	CAFile        string
	SASLMechanism string // "", plain, scram-sha-256, scram-sha-512
	SASLUser      string
	SASLPassword  string
}

// RegisterFlags registers the --kafka-tls* and --kafka-sasl-* flags.
func (s *Security) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&s.TLS, FlagTLS, false, "connect to the brokers over TLS")
	fs.StringVar(&s.CAFile, FlagTLSCA, "", "PEM file of the CA that signed the brokers' certificates (default: system roots)")
	fs.StringVar(&s.SASLMechanism, FlagSASLMechanism, "", "SASL mechanism: plain, scram-sha-256 or scram-sha-512 (empty: none)")
	fs.StringVar(&s.SASLUser, FlagSASLUser, "", "SASL user")
	fs.StringVar(&s.SASLPassword, FlagSASLPassword, "", "SASL password (prefer REFTRACK_KAFKA_SASL_PASSWORD)")
}

// Validate returns every problem at once.
func (s *Security) Validate() error {
	var errs []error
	switch s.SASLMechanism {
	case "":
	case "plain", "scram-sha-256", "scram-sha-512":
		if s.SASLUser == "" || s.SASLPassword == "" {
			errs = append(errs, errors.New("--kafka-sasl-user and --kafka-sasl-password: required with --kafka-sasl-mechanism"))
		}
		if s.SASLMechanism == "plain" && !s.TLS {
			errs = append(errs, errors.New("--kafka-sasl-mechanism plain sends the password in clear: enable --kafka-tls"))
		}
	default:
		errs = append(errs, fmt.Errorf("--kafka-sasl-mechanism %q: want plain, scram-sha-256 or scram-sha-512", s.SASLMechanism))
	}
	if s.CAFile != "" {
		if _, err := os.Stat(s.CAFile); err != nil {
			errs = append(errs, fmt.Errorf("--kafka-tls-ca: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Opts turns the settings into client options.
func (s *Security) Opts() ([]kgo.Opt, error) {
	var out []kgo.Opt
	if s.TLS {
		cfg, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		out = append(out, kgo.DialTLSConfig(cfg))
	}
	if m := s.mechanism(); m != nil {
		out = append(out, kgo.SASL(m))
	}
	return out, nil
}

func (s *Security) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CAFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read --kafka-tls-ca: %w", err)
	}
	cfg.RootCAs = x509.NewCertPool()
	if !cfg.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--kafka-tls-ca %s: no PEM certificates", s.CAFile)
	}
	return cfg, nil
}

func (s *Security) mechanism() sasl.Mechanism {
	switch s.SASLMechanism {
	case "plain":
		return plain.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsMechanism()
	case "scram-sha-256":
		return scram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha256Mechanism()
	case "scram-sha-512":
		return scram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha512Mechanism()
	}
	return nil
}

// Config is a connection to the brokers: what an operator command needs to
// open a Kafka client.
type Config struct {
	Brokers  string // comma-separated seed brokers
	Security Security
	optional bool
}

// RegisterFlags registers --brokers (default DefaultBrokers) and the
// security flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Brokers, FlagBrokers, DefaultBrokers, "comma-separated Kafka seed brokers")
	c.Security.RegisterFlags(fs)
}

// RegisterOptionalFlags is RegisterFlags for a command that uses Kafka only
// when asked: --brokers defaults to empty, meaning no Kafka, and what says
// what the brokers are for.
func (c *Config) RegisterOptionalFlags(fs *flag.FlagSet, what string) {
	c.optional = true
	fs.StringVar(&c.Brokers, FlagBrokers, "", "comma-separated Kafka seed brokers: "+what+" (empty: no Kafka)")
	c.Security.RegisterFlags(fs)
}

// Enabled says whether brokers were given.
func (c *Config) Enabled() bool { return len(c.Seeds()) > 0 }

// Seeds splits Brokers into addresses.
func (c *Config) Seeds() []string {
	return SplitBrokers(c.Brokers)
}

// SplitBrokers splits a comma-separated broker list, dropping blanks.
func SplitBrokers(brokers string) []string {
	var out []string
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Validate returns every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if !c.Enabled() && !c.optional {
		errs = append(errs, errors.New("--brokers: at least one broker is required"))
	}
	return errors.Join(append(errs, c.Security.Validate())...)
}

// Opts are the seed brokers and the security options.
func (c *Config) Opts() ([]kgo.Opt, error) {
	sec, err := c.Security.Opts()
	if err != nil {
		return nil, err
	}
	return append([]kgo.Opt{kgo.SeedBrokers(c.Seeds()...)}, sec...), nil
}

// NewClient validates the settings and creates a client with them and
// opts; it does not wait for the brokers (see Connect).
func (c *Config) NewClient(opts ...kgo.Opt) (*kgo.Client, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	base, err := c.Opts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("create kafka client for %s: %w", c.Brokers, err)
	}
	return cl, nil
}

// Connect is NewClient, then a ping: a command learns at once that it
// cannot reach or log in to the brokers, rather than from a produce that
// retries a refused connection until its context ends. A refused login
// looks like a closed connection, so the error names the security settings
// used.
func (c *Config) Connect(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := c.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("reach kafka brokers %s (%s): %w", c.Brokers, c.Security.describe(), err)
	}
	return cl, nil
}

// describe names the settings a failed connection used, never the password.
func (s *Security) describe() string {
	transport := "no TLS"
	if s.TLS {
		transport = "TLS"
	}
	if s.SASLMechanism == "" {
		return transport + ", no SASL: set --kafka-sasl-* if the brokers require it"
	}
	return fmt.Sprintf("%s, SASL %s as %q", transport, s.SASLMechanism, s.SASLUser)
}
