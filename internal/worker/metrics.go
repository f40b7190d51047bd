package worker

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kgo"
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
	lag         *prometheus.GaugeVec
	end         *prometheus.GaugeVec
	fenced      *prometheus.CounterVec
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
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "reftrack", Name: "consumer_lag_records", ConstLabels: cl,
			Help: "Offsets between the last record fetched (transaction markers included, so a drained partition shows 0) and the partition's last stable offset, as of the latest fetch that returned records. Scale a stage out when this grows.",
		}, []string{"topic", "partition"}),
		end: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "reftrack", Name: "partition_end_offset", ConstLabels: cl,
			Help: "High watermark of each input partition as of the latest fetch: summed over referrals.rejected's partitions (the sink reads it) it is the dead-letter topic's size since it was created.",
		}, []string{"topic", "partition"}),
		fenced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "reftrack", Name: "store_fenced_records_total", ConstLabels: cl,
			Help: "Records a store worker did not write because the store already held them (another member wrote them: this one had lost the partition).",
		}, []string{"topic"}),
	}
	reg.MustRegister(m.in, m.out, m.deadLetters, m.batches, m.batchTime, m.batchSize, m.lag, m.end, m.fenced)
	return m
}

// observeLag sets the lag gauge from the watermarks a fetch carries: no
// extra request to the brokers, and exact for what was just read.
func (m *metrics) observeLag(fetches kgo.Fetches) {
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		end := p.LastStableOffset
		if end < 0 {
			end = p.HighWatermark
		}
		next := p.Records[len(p.Records)-1].Offset + 1
		part := strconv.Itoa(int(p.Partition))
		m.lag.WithLabelValues(p.Topic, part).Set(float64(max(end-next, 0)))
		m.end.WithLabelValues(p.Topic, part).Set(float64(p.HighWatermark))
	})
}
