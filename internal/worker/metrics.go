package worker

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a per-process registry with Go and process collectors;
// reftrack never registers on the global default registry.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// metrics are the runtime's own; labels are bounded (stage, topic, outcome).
type metrics struct {
	in          *prometheus.CounterVec
	out         *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	batches     *prometheus.CounterVec
	batchTime   prometheus.Histogram
	batchSize   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, stage string) *metrics {
	cl := prometheus.Labels{"stage": stage}
	m := &metrics{
		in: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Name: "records_in_total", ConstLabels: cl,
			Help: "Records consumed and committed, by source topic.",
		}, []string{"topic"}),
		out: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Name: "records_out_total", ConstLabels: cl,
			Help: "Records produced and committed, by destination topic.",
		}, []string{"topic"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Name: "records_rejected_total", ConstLabels: cl,
			Help: "Records sent to the dead-letter topic, by first reason code.",
		}, []string{"code"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Name: "batches_total", ConstLabels: cl,
			Help: "Transactions ended, by outcome (committed, aborted, failed).",
		}, []string{"outcome"}),
		batchTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "reftrack", Name: "batch_duration_seconds", ConstLabels: cl,
			Help:    "Time from poll to transaction end.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "reftrack", Name: "batch_records", ConstLabels: cl,
			Help:    "Records per batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
	}
	reg.MustRegister(m.in, m.out, m.deadLetters, m.batches, m.batchTime, m.batchSize)
	return m
}
