package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the HTTP API; the Kafka path is counted by the runtime.
type Metrics struct {
	requests *prometheus.CounterVec
	accepted prometheus.Counter
	limited  *prometheus.CounterVec
}

// NewMetrics registers the ingest metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "ingest", Name: "http_requests_total",
			Help: "HTTP requests to the partner API, by response status.",
		}, []string{"status"}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "ingest", Name: "http_events_accepted_total",
			Help: "Events accepted over HTTP and produced to referrals.ingested.",
		}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "ingest", Name: "http_rate_limited_total",
			Help: "Requests answered 429, by the bucket that was empty: partner (events) or client (failures per address).",
		}, []string{"scope"}),
	}
	reg.MustRegister(m.requests, m.accepted, m.limited)
	return m
}
