package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Readiness says whether a worker can do its work, so that a load balancer
// or Kubernetes stops routing to one whose dependencies are down. Two
// sources: the runtime's own verdict (Set: connected, batches succeeding)
// and dependency checks run on a timer (AddCheck, Watch) — active, so that
// an idle worker notices a dead Redis and a recovered ClickHouse is noticed
// without waiting for a batch.
type Readiness struct {
	ready atomic.Bool

	mu     sync.Mutex
	checks []namedCheck
	failed map[string]string // check name → its last error
}

type namedCheck struct {
	name string
	fn   func(context.Context) error
}

// Set records the runtime's own verdict.
func (r *Readiness) Set(ok bool) { r.ready.Store(ok) }

// AddCheck registers a dependency check ("kafka", "redis", "clickhouse").
func (r *Readiness) AddCheck(name string, fn func(context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, namedCheck{name, fn})
}

// Ready reports whether the runtime is ready and no check failed last time.
func (r *Readiness) Ready() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ready.Load() && len(r.failed) == 0
}

// Failing returns the checks that failed on their last run, with why.
func (r *Readiness) Failing() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.failed))
	for k, v := range r.failed {
		out[k] = v
	}
	return out
}

// CheckNow runs every check once, each bounded by timeout.
func (r *Readiness) CheckNow(ctx context.Context, timeout time.Duration) {
	r.mu.Lock()
	checks := slices.Clone(r.checks)
	r.mu.Unlock()
	failed := map[string]string{}
	for _, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		if err := c.fn(cctx); err != nil {
			failed[c.name] = err.Error()
		}
		cancel()
	}
	r.mu.Lock()
	r.failed = failed
	r.mu.Unlock()
}

// Watch runs the checks every interval until ctx ends.
func (r *Readiness) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r.CheckNow(ctx, interval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// OpsHandler serves /metrics, /healthz (process alive) and /readyz.
func OpsHandler(reg *prometheus.Registry, ready *Readiness) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Ready() {
			// Which dependency is down, so the operator need not guess.
			b, _ := json.Marshal(map[string]any{"ready": false, "runtime_ready": ready.ready.Load(), "failing": ready.Failing()})
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write(append(b, '\n'))
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
