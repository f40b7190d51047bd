package worker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// KafkaSecurity is how workers authenticate to the brokers.
type KafkaSecurity struct {
	TLS           bool
	CAFile        string
	SASLMechanism string // "", plain, scram-sha-256, scram-sha-512
	SASLUser      string
	SASLPassword  string
}

func (s *KafkaSecurity) validate() error {
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

// opts turns the settings into client options.
func (s *KafkaSecurity) opts() ([]kgo.Opt, error) {
	var out []kgo.Opt
	if s.TLS {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.CAFile != "" {
			pem, err := os.ReadFile(s.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read --kafka-tls-ca: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--kafka-tls-ca %s: no PEM certificates", s.CAFile)
			}
		}
		out = append(out, kgo.DialTLSConfig(cfg))
	}
	var m sasl.Mechanism
	switch s.SASLMechanism {
	case "plain":
		m = plain.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsMechanism()
	case "scram-sha-256":
		m = scram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha256Mechanism()
	case "scram-sha-512":
		m = scram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha512Mechanism()
	}
	if m != nil {
		out = append(out, kgo.SASL(m))
	}
	return out, nil
}
