package ingest

import (
	"errors"
	"flag"
	"fmt"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas/validation"
)

// EdgeConfig is what bounds the partner API's exposure: how long a
// connection may hold the server, how much one request may ask, how many
// failures one client address may cost, and the transport.
type EdgeConfig struct {
	Timeouts    worker.HTTPTimeouts
	TLSCert     string
	TLSKey      string
	MaxEvents   int
	ClientRate  float64
	ClientBurst int
	// Validation is the synchronous check's configuration, the same
	// flags (--phone-region) as the validate stage's, from one place.
	Validation validation.Config
}

// RegisterFlags registers the edge flags.
func (e *EdgeConfig) RegisterFlags(fs *flag.FlagSet) {
	d := worker.DefaultHTTPTimeouts
	fs.DurationVar(&e.Timeouts.ReadHeader, "http-read-header-timeout", d.ReadHeader, "time a client has to send a request's headers")
	fs.DurationVar(&e.Timeouts.Read, "http-read-timeout", d.Read, "time a client has to send a whole request, body included (the body deadline)")
	fs.DurationVar(&e.Timeouts.Write, "http-write-timeout", d.Write, "time from the end of the request headers to the end of the response")
	fs.DurationVar(&e.Timeouts.Idle, "http-idle-timeout", d.Idle, "time an idle keep-alive connection stays open")
	fs.StringVar(&e.TLSCert, "tls-cert", "", "PEM certificate chain of the partner API (with --tls-key: serve HTTPS)")
	fs.StringVar(&e.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.IntVar(&e.MaxEvents, "max-events", 1000, "most events one request may carry (more: 413 before they are decoded)")
	fs.Float64Var(&e.ClientRate, "client-rate-limit", 5, "failed requests (401, 400, 413, 415) per second per client address before it gets 429 (0: unlimited)")
	fs.IntVar(&e.ClientBurst, "client-rate-burst", 50, "failed requests a client address may make at once above --client-rate-limit")
	e.Validation.RegisterFlags(fs)
}

// Validate returns every problem of the edge flags at once.
func (e *EdgeConfig) Validate() error {
	var errs []error
	t := e.Timeouts
	if t.ReadHeader <= 0 || t.Read <= 0 || t.Write <= 0 || t.Idle <= 0 {
		errs = append(errs, fmt.Errorf("--http-*-timeout %+v: every timeout must be positive", t))
	}
	if (e.TLSCert == "") != (e.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key: give both or neither"))
	}
	if e.MaxEvents < 1 || e.MaxEvents > 100_000 {
		errs = append(errs, fmt.Errorf("--max-events %d: must be within 1..100000", e.MaxEvents))
	}
	if e.ClientRate < 0 || (e.ClientRate > 0 && e.ClientBurst < 1) {
		errs = append(errs, fmt.Errorf("--client-rate-limit %v / --client-rate-burst %d: rate ≥ 0, burst ≥ 1", e.ClientRate, e.ClientBurst))
	}
	if err := e.Validation.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// serveOptions are the worker.Serve options of the partner API.
func (e *EdgeConfig) serveOptions() []worker.ServeOption {
	opts := []worker.ServeOption{worker.WithTimeouts(e.Timeouts)}
	if e.TLSCert != "" {
		opts = append(opts, worker.WithTLS(e.TLSCert, e.TLSKey))
	}
	return opts
}

// validator is the validate stage's checker (schemas/validation) with the
// same configuration as the validate deployment, so a synchronous 202
// never becomes a dead letter for a phone number read differently.
func (e *EdgeConfig) validator() (*validation.Validator, error) {
	v, err := validation.New(e.Validation)
	if err != nil {
		return nil, fmt.Errorf("build the synchronous validator: %w", err)
	}
	return v, nil
}

// apply copies the request-level limits into api.
func (e *EdgeConfig) apply(api *API) {
	api.MaxEvents = e.MaxEvents
	api.ClientRate, api.ClientBurst = e.ClientRate, e.ClientBurst
}
