package sink

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the sink.
type Metrics struct {
	rows        *prometheus.CounterVec
	insertTime  *prometheus.HistogramVec
	latency     *prometheus.HistogramVec
	undecodable *prometheus.CounterVec
	// rereadSkipped counts rows not inserted again after a failed write
	// because ClickHouse already held them.
	rereadSkipped *prometheus.CounterVec
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
			Help: "From ingest's received_at to the sink writing the row, by topic.",
			// Steps of 25 % from 10 ms to a minute: doubling buckets put
			// 0.64 s and 1.28 s next to each other, too coarse to tell a
			// p99 of 0.7 s from one of 1.2 s.
			Buckets: prometheus.ExponentialBucketsRange(0.01, 60, 40),
		}, []string{"topic"}),
		undecodable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "sink", Name: "undecodable_total",
			Help: "Records written to rejected_events because the sink could not decode them, by topic.",
		}, []string{"topic"}),
		rereadSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Subsystem: "sink", Name: "retry_rows_already_stored_total",
			Help: "Rows a retried write did not insert because the failed attempt had landed them (its answer was lost), by table.",
		}, []string{"table"}),
	}
	reg.MustRegister(m.rows, m.insertTime, m.latency, m.undecodable, m.rereadSkipped)
	return m
}
