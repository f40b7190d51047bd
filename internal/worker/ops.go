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

// Serve runs an HTTP server on addr until ctx is done, then shuts it down
// gracefully. An empty addr serves nothing and waits for ctx.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	if addr == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Info("http listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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
