package sink

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the sink.
type Metrics struct {
	rows        *prometheus.CounterVec
	insertTime  *prometheus.HistogramVec
	latency     *prometheus.HistogramVec
	undecodable *prometheus.CounterVec
}

// NewMetrics registers the sink metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "sink", Name: "rows_inserted_total",
			Help: "Rows inserted into ClickHouse, by table (a retried insert counts again).",
		}, []string{"table"}),
		insertTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "reftrack", Subsystem: "sink", Name: "insert_duration_seconds",
			Help: "Time of one batch INSERT, by table.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"table"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "reftrack", Subsystem: "sink", Name: "end_to_end_latency_seconds",
			Help:    "From ingest's received_at to the sink writing the row, by topic.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}, []string{"topic"}),
		undecodable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "sink", Name: "undecodable_total",
			Help: "Records written to rejected_events because the sink could not decode them, by topic.",
		}, []string{"topic"}),
	}
	reg.MustRegister(m.rows, m.insertTime, m.latency, m.undecodable)
	return m
}
