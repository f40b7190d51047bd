package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Readiness is flipped by the runtime: ready once connected and while
// batches succeed, so a load balancer or Kubernetes stops routing to a worker
// whose dependencies are down.
type Readiness struct{ ready atomic.Bool }

// Set marks the worker ready or not.
func (r *Readiness) Set(ok bool) { r.ready.Store(ok) }

// Ready reports the current state.
func (r *Readiness) Ready() bool { return r.ready.Load() }

// OpsHandler serves /metrics, /healthz (process alive) and /readyz.
func OpsHandler(reg *prometheus.Registry, ready *Readiness) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// MountPprof adds the runtime profiles under /debug/pprof/. They are opt-in:
// a profile costs CPU while it runs and shows internals, so the ops port
// that carries them must not be public.
func MountPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// Ops is OpsHandler plus the profiles when cfg asks for them.
func (c *Config) Ops(reg *prometheus.Registry, ready *Readiness) *http.ServeMux {
	mux := OpsHandler(reg, ready)
	if c.Pprof {
		MountPprof(mux)
	}
	return mux
}

// HTTPTimeouts bound how long one connection may hold a server.
type HTTPTimeouts struct{ ReadHeader, Read, Write, Idle time.Duration }

// DefaultHTTPTimeouts are every server's unless WithTimeouts says
// otherwise: a slow or idle client is cut off instead of holding a
// connection and a goroutine forever. Write leaves room for a 30 s
// /debug/pprof/profile on the ops port.
var DefaultHTTPTimeouts = HTTPTimeouts{ReadHeader: 5 * time.Second, Read: 15 * time.Second, Write: 60 * time.Second, Idle: 60 * time.Second}

// ServeOption adjusts the server Serve runs.
type ServeOption func(*serveConfig)

type serveConfig struct {
	timeouts          HTTPTimeouts
	certFile, keyFile string
}

// WithTimeouts replaces the default timeouts.
func WithTimeouts(t HTTPTimeouts) ServeOption { return func(c *serveConfig) { c.timeouts = t } }

// WithTLS serves HTTPS with the PEM certificate chain and key in these files.
func WithTLS(certFile, keyFile string) ServeOption {
	return func(c *serveConfig) { c.certFile, c.keyFile = certFile, keyFile }
}

// Serve runs an HTTP server on addr until ctx is done, then shuts it down
// gracefully. An empty addr serves nothing and waits for ctx.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger, opts ...ServeOption) error {
	if addr == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ServeListener(ctx, ln, h, log, opts...)
}

// ServeListener is Serve on a listener the caller opened.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, opts ...ServeOption) error {
	c := serveConfig{timeouts: DefaultHTTPTimeouts}
	for _, o := range opts {
		o(&c)
	}
	addr := ln.Addr().String()
	srv := newServer(h, c.timeouts)
	log.Info("http listening", "addr", addr, "tls", c.certFile != "")
	errc := make(chan error, 1)
	go func() {
		if c.certFile != "" {
			errc <- srv.ServeTLS(ln, c.certFile, c.keyFile)
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down %s: %w", addr, err)
	}
	return nil
}

// newServer bounds every phase of a connection: a client that sends its
// headers or body slowly, never reads its answer, or idles on a keep-alive
// loses the connection instead of holding a goroutine and a descriptor.
// Read covers the whole request, body included: it is the body deadline.
func newServer(h http.Handler, t HTTPTimeouts) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read, WriteTimeout: t.Write, IdleTimeout: t.Idle}
}
